#include <doctest/doctest.h>

#include <vector>

#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/outbound_buffer.hpp"

using namespace sluice;

namespace {

struct Listener final : WritabilityListener {
  std::vector<bool> changes;
  void on_writability_changed(bool writable) override { changes.push_back(writable); }
};

}  // namespace

TEST_CASE("flushed byte messages gather into iovecs in order, unflushed ones do not") {
  Listener listener;
  OutboundBuffer outbound(listener, 32, 64);
  outbound.add(Buffer::copy_of("ab"), {});
  CompositeBuffer composite;
  composite.append(Buffer::copy_of("cd"));
  composite.append(Buffer::copy_of("ef"));
  outbound.add(std::move(composite), {});
  outbound.mark_flushed();
  outbound.add(Buffer::copy_of("unflushed"), {});
  iovec iov[8];
  const auto gathered = outbound.gather(iov, 1 << 20);
  CHECK(gathered.iovecs == 3);
  CHECK(gathered.bytes == 6);
  CHECK(std::string_view(static_cast<char*>(iov[1].iov_base), iov[1].iov_len) == "cd");
  outbound.fail_all(Error(ChannelErrc::closed));
}

TEST_CASE("consuming written bytes completes whole messages and advances a partial one") {
  Listener listener;
  OutboundBuffer outbound(listener, 32, 64);
  int completed = 0;
  outbound.add(Buffer::copy_of("abc"), [&](const Error& e) { completed += e ? 0 : 1; });
  outbound.add(Buffer::copy_of("defg"), [&](const Error& e) { completed += e ? 0 : 1; });
  outbound.mark_flushed();
  CHECK(outbound.pending_bytes() == 7);
  outbound.consume(5);
  CHECK(completed == 1);
  CHECK(outbound.pending_bytes() == 2);
  iovec iov[4];
  const auto gathered = outbound.gather(iov, 1 << 20);
  CHECK(gathered.bytes == 2);
  CHECK(std::string_view(static_cast<char*>(iov[0].iov_base), iov[0].iov_len) == "fg");
  outbound.consume(2);
  CHECK(completed == 2);
  CHECK(outbound.empty());
}

TEST_CASE("writability turns false above the high mark and true again below the low mark") {
  Listener listener;
  OutboundBuffer outbound(listener, 32, 64);
  outbound.add(Buffer::copy_of(std::string(60, 'x')), {});
  CHECK(outbound.is_writable());
  outbound.add(Buffer::copy_of(std::string(10, 'y')), {});
  CHECK_FALSE(outbound.is_writable());
  CHECK(listener.changes == std::vector<bool>{false});
  outbound.mark_flushed();
  outbound.consume(40);  // 30 left: below the low mark
  CHECK(outbound.is_writable());
  CHECK(listener.changes == std::vector<bool>{false, true});
  outbound.fail_all(Error(ChannelErrc::closed));
}

TEST_CASE("failing all entries reports the error to every callback, flushed or not") {
  Listener listener;
  OutboundBuffer outbound(listener, 32, 64);
  std::vector<Error> errors;
  outbound.add(Buffer::copy_of("a"), [&](const Error& e) { errors.push_back(e); });
  outbound.mark_flushed();
  outbound.add(Buffer::copy_of("b"), [&](const Error& e) { errors.push_back(e); });
  outbound.fail_all(Error(ChannelErrc::closed));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == ChannelErrc::closed);
  CHECK(errors[1] == ChannelErrc::closed);
  CHECK(outbound.pending_bytes() == 0);
}
