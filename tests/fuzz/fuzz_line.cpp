// libFuzzer target: LineBasedFrameDecoder.
//
// Input: 2 + 2 bytes of cut offsets, 1 byte of options (maximum line length, strip the
// delimiter, fail fast), then the stream. Decoded in one read and in three, the lines must be
// the same and as many too-long errors reported; every line must respect the maximum and end
// (or not) with its delimiter as configured.

#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/line_based_frame_decoder.hpp"

namespace {

using namespace sluice;
using sluice::fuzz::FuzzInput;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "invariant violated: %s\n", fuzz::printable(what).c_str());
  std::abort();
}

struct Options {
  std::size_t max_length;
  bool strip;
  bool fail_fast;
};

std::vector<std::string> decode(const Options& options,
                                const std::vector<std::span<const std::byte>>& reads) {
  auto collector = std::make_shared<fuzz::Collector>();
  auto channel = EmbeddedChannel::create([options, collector](Pipeline& pipeline) {
    pipeline.add_last("lines", std::make_unique<LineBasedFrameDecoder>(
                                   options.max_length, options.strip, options.fail_fast));
    pipeline.add_last("collector", collector);
  });
  std::vector<std::string> log;
  std::size_t errors = 0;
  auto drain = [&] {
    for (Message& message : collector->messages) {
      const auto* buffer = message.get_if<Buffer>();
      if (buffer == nullptr) fail("a line that is not a Buffer");
      std::string line = fuzz::to_string(*buffer);
      std::string content = line;
      if (!options.strip) {
        if (content.empty() || content.back() != '\n') fail("line without its delimiter: " + line);
        content.pop_back();
        if (!content.empty() && content.back() == '\r') content.pop_back();
      }
      if (content.find('\n') != std::string::npos) fail("LF inside a line: " + line);
      if (content.size() > options.max_length) fail("line over the maximum: " + line);
      log.push_back("line " + line);
    }
    collector->messages.clear();
    for (const Error& error : collector->errors) {
      if (error.code() != CodecErrc::too_long_frame) fail("unexpected error " + error.message());
      ++errors;
    }
    collector->errors.clear();
  };
  for (const auto& read : reads) {
    if (read.empty()) continue;
    channel->write_inbound(fuzz::read_buffer(read));
    drain();
  }
  channel->finish();
  drain();
  // When a too-long line is reported depends on where the reads were cut (with fail_fast, as
  // soon as the limit is crossed), so only how many are reported is compared.
  log.push_back("too-long errors " + std::to_string(errors));
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  const std::size_t cut_a = input.u16();
  const std::size_t cut_b = input.u16();
  const std::uint8_t flags = input.u8();
  const Options options{static_cast<std::size_t>(flags & 0x3f), (flags & 0x40) != 0,
                        (flags & 0x80) != 0};
  const auto bytes = input.rest();
  if (bytes.empty()) return 0;
  const auto whole = decode(options, {bytes});
  const auto split = decode(options, fuzz::split_at(bytes, cut_a, cut_b));
  fuzz::expect_same(whole, split, "LineBasedFrameDecoder");
  return 0;
}
