// libFuzzer target: LengthFieldBasedFrameDecoder.
//
// Input: 2 + 2 bytes of cut offsets, 6 bytes of options (field offset and length, adjustment,
// bytes to strip, byte order, fail-fast, contiguous or composite frames, maximum frame length),
// then the stream. The stream is decoded in one read and in three; both must give the same
// frames and errors, every frame must respect the maximum, and the decoder must not throw.

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/length_field_frame_decoder.hpp"

namespace {

using namespace sluice;
using sluice::fuzz::FuzzInput;

std::vector<std::string> decode(const LengthFieldFrameOptions& options,
                                const std::vector<std::span<const std::byte>>& reads) {
  auto collector = std::make_shared<fuzz::Collector>();
  auto channel = EmbeddedChannel::create([options, collector](Pipeline& pipeline) {
    pipeline.add_last("frames", std::make_unique<LengthFieldBasedFrameDecoder>(options));
    pipeline.add_last("collector", collector);
  });
  std::vector<std::string> log;
  auto drain = [&] {
    for (Message& message : collector->messages) {
      std::string frame;
      if (const auto* buffer = message.get_if<Buffer>()) {
        if (!options.contiguous_frames) std::abort();
        frame = fuzz::to_string(*buffer);
      } else if (const auto* composite = message.get_if<CompositeBuffer>()) {
        if (options.contiguous_frames) std::abort();
        frame = fuzz::to_string(*composite);
      } else {
        std::fprintf(stderr, "unexpected message type\n");
        std::abort();
      }
      if (frame.size() > options.max_frame_length) {
        std::fprintf(stderr, "frame of %zu bytes over the maximum %zu\n", frame.size(),
                     options.max_frame_length);
        std::abort();
      }
      log.push_back("frame " + frame);
    }
    collector->messages.clear();
    for (const Error& error : collector->errors) {
      if (error.code() != CodecErrc::too_long_frame && error.code() != CodecErrc::corrupted_frame) {
        std::fprintf(stderr, "unexpected error: %s\n", error.message().c_str());
        std::abort();
      }
      log.push_back("error " + std::to_string(error.code().value()));
    }
    collector->errors.clear();
  };
  for (const auto& read : reads) {
    if (read.empty()) continue;
    if (channel->is_open()) channel->write_inbound(fuzz::read_buffer(read));
    drain();
  }
  channel->finish();
  drain();
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  const std::size_t cut_a = input.u16();
  const std::size_t cut_b = input.u16();
  LengthFieldFrameOptions options;
  const std::uint8_t layout = input.u8();
  static constexpr std::size_t kLengths[] = {1, 2, 3, 4, 8, 2, 4, 5};  // 5: rejected
  options.length_field_length = kLengths[layout & 7];
  options.length_field_offset = (layout >> 3) & 3;
  options.byte_order = (layout & 0x20) ? std::endian::little : std::endian::big;
  options.fail_fast = (layout & 0x40) != 0;
  options.contiguous_frames = (layout & 0x80) == 0;
  options.length_adjustment = static_cast<std::int8_t>(input.u8());
  if (options.length_adjustment == -128) options.length_adjustment = INT64_MIN;  // extremes too
  if (options.length_adjustment == 127) options.length_adjustment = INT64_MAX;
  options.initial_bytes_to_strip = input.u8() % 16;
  options.max_frame_length = input.u16();
  const auto bytes = input.rest();
  if (bytes.empty()) return 0;

  try {
    LengthFieldBasedFrameDecoder probe(options);
  } catch (const std::invalid_argument&) {
    return 0;  // an impossible configuration is refused up front, as documented
  }
  const auto whole = decode(options, {bytes});
  const auto split = decode(options, fuzz::split_at(bytes, cut_a, cut_b));
  fuzz::expect_same(whole, split, "LengthFieldBasedFrameDecoder");
  return 0;
}
