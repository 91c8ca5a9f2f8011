#include "sluice/codec/http/http_fields.hpp"

#include <cstring>

namespace sluice::http {

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // ASCII only: field names and tokens are ASCII, and folding other bytes would be wrong.
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

Field HttpFields::operator[](std::size_t index) const noexcept {
  FieldRef ref;
  std::memcpy(&ref, table_.readable_span().data() + index * sizeof(FieldRef), sizeof ref);
  const auto* base = reinterpret_cast<const char*>(bytes_.readable_span().data());
  return {{base + ref.name_offset, ref.name_length}, {base + ref.value_offset, ref.value_length}};
}

std::optional<std::string_view> HttpFields::get(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    const Field field = (*this)[i];
    if (equals_ignore_case(field.name, name)) return field.value;
  }
  return std::nullopt;
}

std::size_t HttpFields::count(std::string_view name) const noexcept {
  std::size_t found = 0;
  for (std::size_t i = 0; i < count_; ++i)
    found += equals_ignore_case((*this)[i].name, name);
  return found;
}

bool HttpFields::has_token(std::string_view name, std::string_view token) const noexcept {
  bool found = false;
  for (std::size_t i = 0; i < count_ && !found; ++i) {
    const Field field = (*this)[i];
    if (!equals_ignore_case(field.name, name)) continue;
    for_each_list_element(field.value, [&](std::string_view element) {
      found = found || equals_ignore_case(element, token);
    });
  }
  return found;
}

}  // namespace sluice::http
