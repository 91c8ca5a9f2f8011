#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace sluice {

namespace detail {
// One sequence for keys of every type: ids must differ across types too.
inline std::uint32_t next_attribute_id() noexcept {
  static std::atomic<std::uint32_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace detail

// A typed key for a value kept on a channel: `static const AttributeKey<Session> kSession;`
// Keys are compared by identity; make each one once (a static) and reuse it.
template <typename T>
class AttributeKey {
 public:
  AttributeKey() noexcept : id_(detail::next_attribute_id()) {}
  std::uint32_t id() const noexcept { return id_; }

 private:
  std::uint32_t id_;
};

// Values attached to a channel by key, for handlers to share per-connection state without
// knowing each other. Loop thread only.
class AttributeMap {
 public:
  template <typename T>
  T* get(const AttributeKey<T>& key) noexcept {
    for (auto& entry : entries_) {
      if (entry.id == key.id()) return static_cast<T*>(entry.value.get());
    }
    return nullptr;
  }
  // Stores (or replaces) the value and returns it.
  template <typename T>
  T& set(const AttributeKey<T>& key, T value) {
    if (T* existing = get(key)) {
      *existing = std::move(value);
      return *existing;
    }
    auto* stored = new T(std::move(value));
    entries_.push_back({key.id(), Erased(stored, [](void* p) { delete static_cast<T*>(p); })});
    return *stored;
  }
  template <typename T>
  bool remove(const AttributeKey<T>& key) noexcept {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->id == key.id()) {
        entries_.erase(it);
        return true;
      }
    }
    return false;
  }

 private:
  using Erased = std::unique_ptr<void, void (*)(void*)>;
  struct Entry {
    std::uint32_t id;
    Erased value;
  };
  std::vector<Entry> entries_;
};

}  // namespace sluice
