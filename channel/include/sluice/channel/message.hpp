#pragma once

#include <cstddef>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/buffer/file_region.hpp"

namespace sluice {

namespace detail {

// One address per type, so type tests need no RTTI.
template <typename T>
struct TypeTag {
  static constexpr char id = 0;
};

template <typename T>
constexpr std::string_view type_name() noexcept {
  std::string_view name = __PRETTY_FUNCTION__;
  const auto start = name.find("T = ") + 4;
  return name.substr(start, name.find_first_of(";]", start) - start);
}

}  // namespace detail

// Bytes a message stands for in a channel's outbound accounting (water marks). Types the
// transport writes report their payload; anything else counts as 0.
inline std::size_t message_bytes(const Buffer& buffer) noexcept {
  return buffer.readable_bytes();
}
inline std::size_t message_bytes(const CompositeBuffer& composite) noexcept {
  return composite.readable_bytes();
}
inline std::size_t message_bytes(const FileRegion& region) noexcept {
  return static_cast<std::size_t>(region.remaining());
}

// A move-only, type-erased value travelling through a pipeline: a Buffer from the transport, a
// decoded request, a user event. Values up to kInlineSize bytes (Buffer, CompositeBuffer,
// FileRegion, a unique_ptr) live inside the Message, so passing one on allocates nothing.
//
//   Message message = std::move(buffer);
//   if (auto* bytes = message.get_if<Buffer>()) ...
//   HttpRequest request = message.take<HttpRequest>();
class Message {
 public:
  static constexpr std::size_t kInlineSize = 112;

  Message() noexcept = default;

  template <typename T>
  requires(!std::is_same_v<std::decay_t<T>, Message> && !std::is_lvalue_reference_v<T> &&
           std::is_move_constructible_v<std::decay_t<T>>)
      Message(T&& value) {  // NOLINT: implicit, so that ctx.write(std::move(buffer)) reads well
    using Stored = std::decay_t<T>;
    if constexpr (fits_inline<Stored>()) {
      ::new (static_cast<void*>(storage_)) Stored(std::move(value));
      ops_ = &kInlineOps<Stored>;
    } else {
      *reinterpret_cast<Stored**>(storage_) = new Stored(std::move(value));
      ops_ = &kHeapOps<Stored>;
    }
  }

  Message(Message&& other) noexcept : ops_(other.ops_) {
    if (ops_ != nullptr) {
      ops_->relocate(other.storage_, storage_);
      other.ops_ = nullptr;
    }
  }
  Message& operator=(Message&& other) noexcept {
    if (this != &other) {
      // The old content dies last and outside this message: `other` may live inside it
      // (unwrapping an envelope in place), and its destructor may assign to this message or
      // destroy it.
      Message old(std::move(*this));
      if (other.ops_ != nullptr) {
        other.ops_->relocate(other.storage_, storage_);
        ops_ = std::exchange(other.ops_, nullptr);
      }
    }
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  // Emptied before the value dies, so a destructor that resets its message finds it empty.
  ~Message() {
    if (const Ops* ops = std::exchange(ops_, nullptr)) ops->destroy(storage_);
  }

  bool empty() const noexcept { return ops_ == nullptr; }
  explicit operator bool() const noexcept { return !empty(); }

  template <typename T>
  bool is() const noexcept {
    return ops_ != nullptr && ops_->tag == &detail::TypeTag<T>::id;
  }
  template <typename T>
  T* get_if() noexcept {
    return is<T>() ? static_cast<T*>(ops_->address(storage_)) : nullptr;
  }
  template <typename T>
  const T* get_if() const noexcept {
    return is<T>() ? static_cast<const T*>(ops_->address(const_cast<std::byte*>(storage_)))
                   : nullptr;
  }
  // The value as T; throws std::bad_cast-derived MessageTypeError when it holds another type.
  template <typename T>
  T& as() {
    if (!is<T>()) fail_type(detail::type_name<T>());
    return *static_cast<T*>(ops_->address(storage_));
  }
  // Moves the value out; the message is empty afterwards.
  template <typename T>
  T take() {
    T value = std::move(as<T>());
    reset();
    return value;
  }

  // Payload bytes for outbound accounting (see message_bytes).
  std::size_t bytes() const noexcept {
    return ops_ == nullptr ? 0 : ops_->bytes(const_cast<std::byte*>(storage_));
  }
  // The held type's name, for logs ("sluice::Buffer"); "empty" without a value.
  std::string_view type_name() const noexcept { return ops_ == nullptr ? "empty" : ops_->name; }

  // The value is moved out and dies outside this message: its destructor may reset, assign to
  // or destroy this very message (its members may own the object holding it).
  void reset() noexcept {
    if (ops_ == nullptr) return;
    Message doomed(std::move(*this));
  }

 private:
  struct Ops {
    const char* tag;
    std::string_view name;
    void* (*address)(std::byte* storage) noexcept;
    void (*relocate)(std::byte* from, std::byte* to) noexcept;
    void (*destroy)(std::byte* storage) noexcept;
    std::size_t (*bytes)(std::byte* storage) noexcept;
  };

  // A value whose move may throw (std::deque's, in libstdc++) lives out of line too: moving
  // the Message then moves a pointer, so it cannot fail.
  template <typename T>
  static constexpr bool fits_inline() {
    return sizeof(T) <= kInlineSize && alignof(T) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<T>;
  }

  template <typename T>
  static std::size_t bytes_of(const T& value) noexcept {
    if constexpr (requires { message_bytes(value); }) {
      return message_bytes(value);
    } else {
      return 0;
    }
  }

  template <typename T>
  static constexpr Ops kInlineOps{
      &detail::TypeTag<T>::id,
      detail::type_name<T>(),
      [](std::byte* storage) noexcept -> void* { return storage; },
      [](std::byte* from, std::byte* to) noexcept {
        ::new (static_cast<void*>(to)) T(std::move(*reinterpret_cast<T*>(from)));
        reinterpret_cast<T*>(from)->~T();
      },
      [](std::byte* storage) noexcept { reinterpret_cast<T*>(storage)->~T(); },
      [](std::byte* storage) noexcept { return bytes_of(*reinterpret_cast<T*>(storage)); }};

  template <typename T>
  static constexpr Ops kHeapOps{
      &detail::TypeTag<T>::id,
      detail::type_name<T>(),
      [](std::byte* storage) noexcept -> void* { return *reinterpret_cast<T**>(storage); },
      [](std::byte* from, std::byte* to) noexcept {
        *reinterpret_cast<T**>(to) = *reinterpret_cast<T**>(from);
      },
      [](std::byte* storage) noexcept { delete *reinterpret_cast<T**>(storage); },
      [](std::byte* storage) noexcept { return bytes_of(**reinterpret_cast<T**>(storage)); }};

  [[noreturn]] void fail_type(std::string_view wanted) const;

  alignas(std::max_align_t) std::byte storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

static_assert(sizeof(CompositeBuffer) <= Message::kInlineSize,
              "a CompositeBuffer must travel in a Message without a heap allocation");

// The error Message::as throws for a wrong type.
class MessageTypeError : public std::bad_cast {
 public:
  explicit MessageTypeError(std::string what) : what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

}  // namespace sluice
