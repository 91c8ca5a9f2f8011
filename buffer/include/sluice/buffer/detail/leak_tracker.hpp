#pragma once

#include <cstddef>
#include <string>
#include "sluice/core/source_site.hpp"

#include "sluice/buffer/detail/storage_header.hpp"

namespace sluice::detail {

// The allocation sites of live buffers, kept in SLUICE_LEAK_TRACKING builds only (a mutex and a
// hash map per allocation: a debugging aid, not for production).
void record_allocation(const StorageHeader* header, const SourceSite& site);
void forget_allocation(const StorageHeader* header) noexcept;
// Where `header` was allocated; the caller's location when it is not tracked.
SourceSite allocation_site(const StorageHeader* header,
                           SourceSite fallback = SourceSite::current());
std::string live_allocation_report(std::size_t max_sites);

}  // namespace sluice::detail
