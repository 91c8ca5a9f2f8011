// Echoes one message through an EmbeddedChannel and a LineBasedFrameDecoder, using only the
// installed headers and libraries.
#include <sluice/buffer/buffer.hpp>
#include <sluice/channel/embedded_channel.hpp>
#include <sluice/codec/line_based_frame_decoder.hpp>

#include <cstdio>

int main() {
  auto channel = sluice::EmbeddedChannel::create([](sluice::Pipeline& pipeline) {
    pipeline.add_last("lines", std::make_unique<sluice::LineBasedFrameDecoder>(1024));
  });
  channel->write_inbound(sluice::Buffer::copy_of("hello\nworld\n"));
  sluice::Message first = channel->read_inbound();
  if (!first.is<sluice::Buffer>() || first.as<sluice::Buffer>().readable_view() != "hello") {
    std::puts("consumer: unexpected frame");
    return 1;
  }
  std::puts("consumer: ok");
  return 0;
}
