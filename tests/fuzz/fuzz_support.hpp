#pragma once

// Shared by the libFuzzer targets: reading configuration from the front of an input, splitting
// the rest into reads, and failing loudly (abort, which libFuzzer reports as a crash with the
// input saved) when two ways of feeding the same bytes decode differently.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/channel/channel_handler.hpp"

namespace sluice::fuzz {

// Takes configuration bytes from the front of the input; past the end it reads zeros.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t u8() { return position_ < size_ ? data_[position_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::span<const std::byte> rest() const {
    return {reinterpret_cast<const std::byte*>(data_) + position_, size_ - position_};
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t position_ = 0;
};

// The last handler of a fuzzed pipeline: keeps what reaches it. (Reading messages back with
// EmbeddedChannel::read_inbound runs the embedded loop, an epoll_wait call, once per message,
// which would cost most of each run's time.) Added with a shared_ptr, so that the fuzzer can
// look at it until the channel is gone.
class Collector final : public ChannelHandler {
 public:
  void on_read(HandlerContext&, Message&& message) override {
    messages.push_back(std::move(message));
  }
  void on_error(HandlerContext&, const Error& error) override { errors.push_back(error); }

  std::vector<Message> messages;
  std::vector<Error> errors;
};

// `bytes` cut at up to two offsets (each taken modulo size + 1, so any value is valid): the
// reads a transport could have delivered.
inline std::vector<std::span<const std::byte>> split_at(std::span<const std::byte> bytes,
                                                        std::size_t a, std::size_t b) {
  a %= bytes.size() + 1;
  b %= bytes.size() + 1;
  if (a > b) std::swap(a, b);
  std::vector<std::span<const std::byte>> parts;
  parts.push_back(bytes.subspan(0, a));
  parts.push_back(bytes.subspan(a, b - a));
  parts.push_back(bytes.subspan(b));
  return parts;
}

// Each read in a buffer of its own, exactly as large as the read: with the pool off
// (SLUICE_POOL=OFF, as `make fuzz` builds) ASan sees a read past a slice's end.
inline Buffer read_buffer(std::span<const std::byte> bytes) {
  return Buffer::copy_of(bytes);
}

inline std::string printable(std::string_view text, std::size_t max = 400) {
  std::string out;
  for (char c : text.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && u != '\\') {
      out += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
      out += escaped;
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

inline std::string to_string(const Buffer& buffer) {
  const auto bytes = buffer.readable_span();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline std::string to_string(const CompositeBuffer& buffer) {
  std::string out(buffer.readable_bytes(), '\0');
  buffer.get_bytes(0, std::as_writable_bytes(std::span(out)));
  return out;
}

// Aborts with both transcripts when they differ.
inline void expect_same(const std::vector<std::string>& whole,
                        const std::vector<std::string>& split, const char* what) {
  if (whole == split) return;
  std::fprintf(stderr, "%s: fed whole and fed in pieces, the same bytes decode differently\n",
               what);
  const std::size_t n = std::max(whole.size(), split.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string a = i < whole.size() ? whole[i] : "<none>";
    const std::string b = i < split.size() ? split[i] : "<none>";
    std::fprintf(stderr, "  [%zu] %s %s\n", i, a == b ? "  " : "!=", printable(a).c_str());
    if (a != b) std::fprintf(stderr, "       vs %s\n", printable(b).c_str());
  }
  std::abort();
}

}  // namespace sluice::fuzz
