#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sluice/buffer/file_region.hpp"
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

TEST_CASE("gathering stops at a file region and says so only when it has bytes to send") {
  Listener listener;
  OutboundBuffer outbound(listener, 32, 64);
  const auto file = std::make_shared<const File>(Fd(), "region.bin", 10);
  outbound.add(Buffer::copy_of("head"), {});
  outbound.add(FileRegion(file, 0, 10), {});
  outbound.mark_flushed();
  iovec iov[8];
  auto gathered = outbound.gather(iov, 1 << 20);
  CHECK(gathered.iovecs == 1);
  CHECK(gathered.file_follows);

  // An empty region (a HEAD response, an empty file) sends nothing, so nothing may wait for it.
  OutboundBuffer empty_body(listener, 32, 64);
  empty_body.add(Buffer::copy_of("head"), {});
  empty_body.add(FileRegion(file, 0, 0), {});
  empty_body.mark_flushed();
  gathered = empty_body.gather(iov, 1 << 20);
  CHECK(gathered.iovecs == 1);
  CHECK_FALSE(gathered.file_follows);

  // Bytes alone: nothing follows.
  OutboundBuffer bytes_only(listener, 32, 64);
  bytes_only.add(Buffer::copy_of("head"), {});
  bytes_only.mark_flushed();
  CHECK_FALSE(bytes_only.gather(iov, 1 << 20).file_follows);

  outbound.fail_all(Error(ChannelErrc::closed));
  empty_body.fail_all(Error(ChannelErrc::closed));
  bytes_only.fail_all(Error(ChannelErrc::closed));
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

// Retries a failed write into the same buffer, as a write callback on a channel that is still
// open does (a socket error fails the writes before the channel closes).
struct Retry {
  OutboundBuffer& outbound;
  int& failures;
  bool& retrying;
  // Bounded so that the test ends even where failing went on until the buffer was empty.
  static constexpr int kMaxFailures = 100;
  void operator()(const Error& error) {
    if (!error || ++failures > kMaxFailures || !retrying) return;
    outbound.add(Buffer::copy_of("again"), Retry{outbound, failures, retrying});
  }
};

TEST_CASE("failing all entries fails the entries there, not what their callbacks write again") {
  Listener listener;
  OutboundBuffer outbound(listener, 32, 64);
  int failures = 0;
  bool retrying = true;
  outbound.add(Buffer::copy_of("first"), Retry{outbound, failures, retrying});
  outbound.mark_flushed();
  outbound.fail_all(Error(ChannelErrc::closed));
  CHECK(failures == 1);
  // The retry waits, unflushed, for the close that follows to fail it.
  CHECK_FALSE(outbound.empty());
  CHECK_FALSE(outbound.has_flushed());
  CHECK(outbound.pending_bytes() == 5);
  retrying = false;  // the channel closed
  outbound.fail_all(Error(ChannelErrc::closed));
  CHECK(failures == 2);
  CHECK(outbound.empty());
  CHECK(outbound.pending_bytes() == 0);
}

TEST_CASE("with a low water mark of 0, writability comes back once everything is written") {
  // Nothing is below 0: the buffer turned unwritable for good, emptied or not.
  Listener listener;
  OutboundBuffer outbound(listener, 0, 64);
  outbound.add(Buffer::copy_of(std::string(70, 'x')), {});
  CHECK_FALSE(outbound.is_writable());
  outbound.mark_flushed();
  outbound.consume(69);
  CHECK_FALSE(outbound.is_writable());
  outbound.consume(1);
  CHECK(outbound.pending_bytes() == 0);
  CHECK(outbound.is_writable());
  CHECK(listener.changes == std::vector<bool>{false, true});
}

namespace {

// Logs the writability changes into a log shared with write callbacks.
struct LoggingListener final : WritabilityListener {
  std::vector<std::string>& log;
  explicit LoggingListener(std::vector<std::string>& l) : log(l) {}
  void on_writability_changed(bool writable) override {
    log.push_back(writable ? "writable" : "unwritable");
  }
};

}  // namespace

TEST_CASE("a write's callback runs before the writability change its completion causes") {
  // A handler woken by the change writes more; had the change come first, the later write's
  // callback could run before this one.
  std::vector<std::string> log;
  LoggingListener listener(log);
  OutboundBuffer outbound(listener, 2, 4);
  outbound.add(Buffer::copy_of("12345"), [&](const Error&) { log.push_back("done 1"); });
  outbound.add(Buffer::copy_of("6"), [&](const Error&) { log.push_back("done 2"); });
  outbound.mark_flushed();
  outbound.consume(6);
  CHECK(log == std::vector<std::string>{"unwritable", "done 1", "writable", "done 2"});
  CHECK(outbound.pending_bytes() == 0);

  log.clear();
  outbound.add(Buffer::copy_of("12345"), [&](const Error&) { log.push_back("failed 1"); });
  outbound.fail_all(Error(ChannelErrc::closed));
  CHECK(log == std::vector<std::string>{"unwritable", "failed 1", "writable"});
  CHECK(outbound.pending_bytes() == 0);
}
