#include <doctest/doctest.h>

#include <stdexcept>

#include "sluice/channel/channel_options.hpp"
#include "sluice/channel/embedded_channel.hpp"

using namespace sluice;

TEST_CASE("the default options are valid") {
  CHECK_NOTHROW(validate(ChannelOptions{}));
  CHECK_NOTHROW(validate(ListenOptions{}));
  ChannelOptions fixed;
  fixed.receive_sizing = ReceiveBufferSizing::fixed(4096);
  CHECK_NOTHROW(validate(fixed));
}

TEST_CASE("options that could only spin or flap are refused, naming the field") {
  auto refused = [](auto change) {
    ChannelOptions options;
    change(options);
    try {
      validate(options);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  CHECK(refused([](ChannelOptions& o) {
          o.max_messages_per_read = 0;
        }).find("max_messages_per_read") != std::string::npos);
  CHECK(refused([](ChannelOptions& o) { o.write_spin_count = 0; }).find("write_spin_count") !=
        std::string::npos);
  CHECK(refused([](ChannelOptions& o) {
          o.write_low_water_mark = 2;
          o.write_high_water_mark = 1;
        }).find("write_low_water_mark") != std::string::npos);
  CHECK(refused([](ChannelOptions& o) { o.send_buffer = -1; }).find("send_buffer") !=
        std::string::npos);
  CHECK(refused([](ChannelOptions& o) { o.receive_buffer = -1; }).find("receive_buffer") !=
        std::string::npos);
  CHECK(refused([](ChannelOptions& o) {
          o.connect_timeout = std::chrono::milliseconds(-1);
        }).find("connect_timeout") != std::string::npos);
  // Zero does not mean "no timeout": every connect, even to a peer that accepts at once, timed
  // out before its socket was polled (the server saw each connection opened and dropped).
  CHECK(refused([](ChannelOptions& o) {
          o.connect_timeout = std::chrono::milliseconds(0);
        }).find("connect_timeout") != std::string::npos);
  CHECK(refused([](ChannelOptions& o) {
          o.receive_sizing = ReceiveBufferSizing::fixed(0);
        }).find("receive_sizing") != std::string::npos);
  CHECK(refused([](ChannelOptions& o) {
          o.receive_sizing = {64, 32, 128};
        }).find("receive_sizing") != std::string::npos);
  // Past what a Buffer can hold, the read buffer failed to allocate inside a read.
  CHECK(refused([](ChannelOptions& o) {
          o.receive_sizing = ReceiveBufferSizing::adaptive(64, 2048, std::size_t{4} << 30);
        }).find("receive_sizing.maximum") != std::string::npos);
  CHECK(refused([](ChannelOptions& o) {
          o.receive_sizing = ReceiveBufferSizing::fixed(ReceiveBufferSizing::kLargest);
        }) == "accepted");
  // Equal marks are allowed: writability then turns at one level.
  CHECK(refused([](ChannelOptions& o) { o.write_low_water_mark = o.write_high_water_mark; }) ==
        "accepted");

  ListenOptions listen;
  listen.max_accepts_per_wakeup = 0;
  CHECK_THROWS_AS(validate(listen), std::invalid_argument);
  listen = {};
  listen.backlog = -1;
  CHECK_THROWS_AS(validate(listen), std::invalid_argument);
}

TEST_CASE("an embedded channel refuses invalid options when created") {
  ChannelOptions options;
  options.write_spin_count = 0;
  CHECK_THROWS_AS(EmbeddedChannel::create(nullptr, options), std::invalid_argument);
}
