#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sluice/buffer/buffer.hpp"

namespace sluice::http {

// Where a field line's name and value sit in its head's bytes.
struct FieldRef {
  std::uint32_t name_offset;
  std::uint32_t name_length;
  std::uint32_t value_offset;
  std::uint32_t value_length;
};

struct Field {
  std::string_view name;   // as received (case kept)
  std::string_view value;  // leading and trailing whitespace removed
};

// True if `a` and `b` are equal ignoring ASCII case (field names, tokens).
bool equals_ignore_case(std::string_view a, std::string_view b) noexcept;

// The field lines of a received head or trailer section, in order, duplicates kept. Names and
// values are views into the received bytes, which this object keeps alive (a slice of what was
// read); nothing is copied per field. Lookup ignores case.
class HttpFields {
 public:
  HttpFields() = default;
  HttpFields(Buffer bytes, Buffer table, std::size_t count) noexcept
      : bytes_(std::move(bytes)), table_(std::move(table)), count_(count) {}

  std::size_t size() const noexcept { return count_; }
  // The received bytes the fields are views into.
  const Buffer& bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return count_ == 0; }
  Field operator[](std::size_t index) const noexcept;

  // The first field named `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  std::size_t count(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  // True if any `name` field lists `token` among its comma-separated elements (case ignored),
  // as "Connection: keep-alive, Upgrade" lists "upgrade".
  bool has_token(std::string_view name, std::string_view token) const noexcept;

  class Iterator {
   public:
    Iterator(const HttpFields* fields, std::size_t index) : fields_(fields), index_(index) {}
    Field operator*() const noexcept { return (*fields_)[index_]; }
    Iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    bool operator==(const Iterator& other) const noexcept { return index_ == other.index_; }

   private:
    const HttpFields* fields_;
    std::size_t index_;
  };
  Iterator begin() const noexcept { return {this, 0}; }
  Iterator end() const noexcept { return {this, count_}; }

 private:
  Buffer bytes_;  // the section's bytes (shared with the read buffer they came in)
  Buffer table_;  // count_ FieldRefs
  std::size_t count_ = 0;
};

// Calls visit(element) for each comma-separated element of a list field value, with the
// whitespace around it removed; empty elements are skipped (RFC 9110 §5.6.1).
template <typename Visitor>
void for_each_list_element(std::string_view value, Visitor&& visit) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view element = value.substr(0, comma);
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t'))
      element.remove_prefix(1);
    while (!element.empty() && (element.back() == ' ' || element.back() == '\t'))
      element.remove_suffix(1);
    if (!element.empty()) visit(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace sluice::http
