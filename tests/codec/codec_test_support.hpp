#pragma once

// Helpers shared by the codec unit tests: bytes in, frames out, through an EmbeddedChannel.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/channel/message.hpp"
#include "sluice/core/debug.hpp"

// Failed checks on lists of frames print the frames.
template <>
struct doctest::StringMaker<std::vector<std::string>> {
  static doctest::String convert(const std::vector<std::string>& values) {
    std::string text = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
      text += (i == 0 ? "\"" : ", \"") + values[i] + "\"";
    }
    text += "}";
    return doctest::String(text.c_str(), static_cast<doctest::String::size_type>(text.size()));
  }
};

template <>
struct doctest::StringMaker<std::vector<std::error_code>> {
  static doctest::String convert(const std::vector<std::error_code>& codes) {
    std::string text = "{";
    for (std::size_t i = 0; i < codes.size(); ++i) {
      text += (i == 0 ? "" : ", ") + std::string(codes[i].category().name()) + ":" +
              std::to_string(codes[i].value());
    }
    text += "}";
    return doctest::String(text.c_str(), static_cast<doctest::String::size_type>(text.size()));
  }
};

namespace sluice::test {

// A fresh pooled buffer holding `text`.
inline Buffer bytes(std::string_view text) {
  return Buffer::copy_of(text);
}

// A fresh pooled buffer of `size` bytes, each `fill` (for frames too large to spell out).
inline Buffer filled(std::size_t size, char fill = 'f') {
  Buffer buffer = Buffer::allocate(size);
  std::ranges::fill(buffer.writable_span().first(size), static_cast<std::byte>(fill));
  buffer.advance_writer(size);
  return buffer;
}

// Frames just past ByteToMessageDecoder's default limit on undecoded bytes: a decoder whose own
// frame limit is higher must let them through.
inline constexpr std::size_t kPastDefaultCumulation = (64u << 20) + 16;

inline std::string text_of(const Buffer& buffer) {
  if (!buffer) return {};
  return std::string(buffer.readable_view());
}

inline std::string text_of(const CompositeBuffer& composite) {
  std::string text(composite.readable_bytes(), '\0');
  composite.get_bytes(0, std::as_writable_bytes(std::span(text)));
  return text;
}

// The bytes of a Buffer or CompositeBuffer message ("<type>" for anything else).
inline std::string text_of(const Message& message) {
  if (const auto* buffer = message.get_if<Buffer>()) return text_of(*buffer);
  if (const auto* composite = message.get_if<CompositeBuffer>()) return text_of(*composite);
  return "<" + std::string(message.type_name()) + ">";
}

// Every message that reached the tail, as text, oldest first.
inline std::vector<std::string> inbound_texts(EmbeddedChannel& channel) {
  std::vector<std::string> texts;
  for (Message message = channel.read_inbound(); message; message = channel.read_inbound()) {
    texts.push_back(text_of(message));
  }
  return texts;
}

// Every message flushed at the head, concatenated as bytes (empty buffers add nothing).
inline std::string outbound_text(EmbeddedChannel& channel) {
  std::string text;
  for (Message message = channel.read_outbound(); message; message = channel.read_outbound()) {
    text += text_of(message);
  }
  return text;
}

// `input` written inbound in pieces cut at `cuts` (ascending offsets).
inline void write_in_pieces(EmbeddedChannel& channel, std::string_view input,
                            const std::vector<std::size_t>& cuts) {
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    if (cut > start && cut < input.size()) {
      channel.write_inbound(bytes(input.substr(start, cut - start)));
      start = cut;
    }
  }
  if (start < input.size()) channel.write_inbound(bytes(input.substr(start)));
}

// `input` written one byte per read.
inline void write_byte_by_byte(EmbeddedChannel& channel, std::string_view input) {
  for (char c : input)
    channel.write_inbound(bytes(std::string_view(&c, 1)));
}

// Counts the bytes CompositeBuffer::index_of looks at on this thread from its construction on.
// Only debug builds (kDebugChecks) count: elsewhere `at_most` holds for any bound, and the
// tests that use it check only their frames.
class SearchedBytes {
 public:
  SearchedBytes() : start_(CompositeBuffer::searched_bytes_on_this_thread()) {}
  std::uint64_t count() const { return CompositeBuffer::searched_bytes_on_this_thread() - start_; }
  bool at_most(std::uint64_t bound) const { return !kDebugChecks || count() <= bound; }

 private:
  std::uint64_t start_;
};

// Runs the embedded loop, sleeping a little between turns, until `done` holds or `limit` has
// passed; returns whether it held. For timers: no precise timing is ever asserted.
inline bool poll_until(EmbeddedChannel& channel, const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    channel.run_pending();
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The error codes that reached the tail.
inline std::vector<std::error_code> error_codes(EmbeddedChannel& channel) {
  std::vector<std::error_code> codes;
  for (const Error& error : channel.take_errors())
    codes.push_back(error.code());
  return codes;
}

}  // namespace sluice::test
