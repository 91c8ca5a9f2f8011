#pragma once

#include <cassert>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace sluice {

// A first-in first-out queue over one array that doubles when full and is never given back:
// once it has grown to the longest the queue gets, pushing and popping allocate nothing.
// std::deque, used as a queue, frees its front block and allocates a new back block every few
// hundred elements, and its first push allocates a 512-byte block (plus its map) even for a
// queue that never holds more than one element. Elements are trivially copyable, so popping
// needs no destructor and the slots are plain storage.
template <typename T>
class RingQueue {
  static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>,
                "RingQueue holds plain values");

 public:
  RingQueue() = default;
  // The queue moved from is left empty, without an array, and usable: moved member by member,
  // it would keep its count and capacity and push through the array it gave away.
  RingQueue(RingQueue&& other) noexcept
      : slots_(std::move(other.slots_)),
        capacity_(std::exchange(other.capacity_, 0)),
        first_(std::exchange(other.first_, 0)),
        size_(std::exchange(other.size_, 0)) {}
  RingQueue& operator=(RingQueue&& other) noexcept {
    if (this != &other) {
      slots_ = std::move(other.slots_);
      capacity_ = std::exchange(other.capacity_, 0);
      first_ = std::exchange(other.first_, 0);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }

  // The oldest element is 0.
  T& operator[](std::size_t i) noexcept {
    assert(i < size_);
    return slots_[slot(i)];
  }
  const T& operator[](std::size_t i) const noexcept {
    assert(i < size_);
    return slots_[slot(i)];
  }
  T& front() noexcept { return (*this)[0]; }
  const T& front() const noexcept { return (*this)[0]; }
  T& back() noexcept { return (*this)[size_ - 1]; }
  const T& back() const noexcept { return (*this)[size_ - 1]; }

  // By value: an element of this queue, pushed again, stays valid across the growth.
  void push_back(T value) {
    if (size_ == capacity_) grow();
    slots_[slot(size_)] = value;
    ++size_;
  }
  void pop_front() noexcept {
    assert(size_ != 0);
    first_ = slot(1);
    --size_;
  }
  void pop_back() noexcept {
    assert(size_ != 0);
    --size_;
  }
  // Drops the newest elements so that at most `count` remain.
  void truncate(std::size_t count) noexcept {
    if (count < size_) size_ = count;
  }

 private:
  static constexpr std::size_t kFirstCapacity = 4;

  // Capacities are powers of two, so wrapping around is a mask.
  std::size_t slot(std::size_t i) const noexcept { return (first_ + i) & (capacity_ - 1); }

  void grow() {
    const std::size_t capacity = capacity_ == 0 ? kFirstCapacity : capacity_ * 2;
    auto slots = std::make_unique<T[]>(capacity);
    for (std::size_t i = 0; i < size_; ++i)
      slots[i] = slots_[slot(i)];
    slots_ = std::move(slots);
    capacity_ = capacity;
    first_ = 0;
  }

  std::unique_ptr<T[]> slots_;
  std::size_t capacity_ = 0;
  std::size_t first_ = 0;  // the slot of element 0
  std::size_t size_ = 0;
};

}  // namespace sluice
