#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace sluice {

template <typename Signature>
class unique_function;

// A move-only std::function (gcc 12 has no std::move_only_function). Callables up to
// kInlineSize bytes that are nothrow-movable live inside the object, so scheduling a small
// lambda on an event loop does not allocate; larger ones go to the heap.
template <typename R, typename... Args>
class unique_function<R(Args...)> {
 public:
  static constexpr std::size_t kInlineSize = 4 * sizeof(void*);

  unique_function() noexcept = default;
  unique_function(std::nullptr_t) noexcept {}  // NOLINT: implicit like std::function

  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, unique_function> &&
           std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
      unique_function(F&& callable) {  // NOLINT: implicit like std::function
    using Stored = std::decay_t<F>;
    if constexpr (fits_inline<Stored>()) {
      ::new (static_cast<void*>(storage_)) Stored(std::forward<F>(callable));
      ops_ = &kInlineOps<Stored>;
    } else {
      *reinterpret_cast<Stored**>(storage_) = new Stored(std::forward<F>(callable));
      ops_ = &kHeapOps<Stored>;
    }
  }

  unique_function(unique_function&& other) noexcept : ops_(other.ops_) {
    if (ops_) {
      ops_->relocate(other.storage_, storage_);
      other.ops_ = nullptr;
    }
  }

  unique_function& operator=(unique_function&& other) noexcept {
    if (this != &other) {
      // The old callable dies last and outside this object: `other` may be owned by it, and
      // its destructor may assign to this object or destroy it.
      unique_function old(std::move(*this));
      if (other.ops_) {
        other.ops_->relocate(other.storage_, storage_);
        ops_ = std::exchange(other.ops_, nullptr);
      }
    }
    return *this;
  }

  unique_function& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }

  unique_function(const unique_function&) = delete;
  unique_function& operator=(const unique_function&) = delete;

  // Emptied before the callable dies, so a destructor that resets its holder finds it empty.
  ~unique_function() {
    if (const Ops* ops = std::exchange(ops_, nullptr)) ops->destroy(storage_);
  }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  // Calling an empty unique_function throws std::bad_function_call, like std::function.
  R operator()(Args... args) {
    if (!ops_) throw std::bad_function_call();
    return ops_->invoke(storage_, std::forward<Args>(args)...);
  }

 private:
  struct Ops {
    R (*invoke)(void* storage, Args&&... args);
    // Moves the callable from `from` into uninitialised `to` and ends its life in `from`.
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void* storage) noexcept;
  };

  template <typename F>
  static constexpr bool fits_inline() {
    return sizeof(F) <= kInlineSize && alignof(F) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<F>;
  }

  // std::invoke_r is C++23. With R void the callable's result, if any, is discarded: returning
  // it from a function returning void would not compile.
  template <typename F>
  static R call(F& callable, Args&&... args) {
    if constexpr (std::is_void_v<R>) {
      std::invoke(callable, std::forward<Args>(args)...);
    } else {
      return std::invoke(callable, std::forward<Args>(args)...);
    }
  }

  template <typename F>
  static constexpr Ops kInlineOps{[](void* storage, Args&&... args) -> R {
                                    return call(*static_cast<F*>(storage),
                                                std::forward<Args>(args)...);
                                  },
                                  [](void* from, void* to) noexcept {
                                    ::new (to) F(std::move(*static_cast<F*>(from)));
                                    static_cast<F*>(from)->~F();
                                  },
                                  [](void* storage) noexcept { static_cast<F*>(storage)->~F(); }};

  template <typename F>
  static constexpr Ops kHeapOps{
      [](void* storage, Args&&... args) -> R {
        return call(**static_cast<F**>(storage), std::forward<Args>(args)...);
      },
      [](void* from, void* to) noexcept { *static_cast<F**>(to) = *static_cast<F**>(from); },
      [](void* storage) noexcept { delete *static_cast<F**>(storage); }};

  // The callable is moved out and dies outside this object: its destructor may reset, assign
  // to or destroy this very unique_function (its captures may own the object holding it).
  void reset() noexcept {
    if (!ops_) return;
    unique_function doomed(std::move(*this));
  }

  alignas(std::max_align_t) std::byte storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

}  // namespace sluice
