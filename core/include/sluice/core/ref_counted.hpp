#pragma once

#include <boost/intrusive_ptr.hpp>

#include <atomic>
#include <cstdint>

namespace sluice {

// Base of objects shared through boost::intrusive_ptr (channels, timers): the count lives in
// the object, so handing out a reference never allocates. Counting is atomic because
// references cross threads (a task queued to a loop holds one).
template <typename Derived>
class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;

  std::uint32_t use_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

  friend void intrusive_ptr_add_ref(const Derived* object) noexcept {
    object->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(const Derived* object) noexcept {
    if (object->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      release_last(const_cast<Derived*>(object));
    }
  }

 protected:
  ~RefCounted() = default;
  // Called when the last reference goes; the default deletes. Derived types that must die on a
  // particular thread declare their own static destroy (and befriend RefCounted<Derived>).
  static void destroy(Derived* object) noexcept { delete object; }

 private:
  static void release_last(Derived* object) noexcept { Derived::destroy(object); }

  mutable std::atomic<std::uint32_t> refs_{0};
};

template <typename T>
using Ref = boost::intrusive_ptr<T>;

}  // namespace sluice
