#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/core/event_loop.hpp"

namespace sluice {

// N event loops, each on a thread of its own, handed out round-robin. Channels stay on the loop
// they are given for life.
class EventLoopGroup {
 public:
  // `threads` = 0: one loop per core. Loops are named "<name>-<i>".
  explicit EventLoopGroup(std::size_t threads = 0, std::string name = "sluice");
  // Shuts down (quiet 0, timeout 5 s) if that was not done. Destroying the group on one of its
  // own loops (a task or callback that drops the last owner of the group) is a programming
  // error: that thread would have to wait for itself to end and outlive the loop running it.
  // It logs a critical message naming the loop and aborts; the destructor has no way to refuse
  // and leave the group running. To stop a group from one of its loops, have a thread outside
  // it call shutdown_gracefully() and destroy the group.
  ~EventLoopGroup();
  EventLoopGroup(const EventLoopGroup&) = delete;
  EventLoopGroup& operator=(const EventLoopGroup&) = delete;

  // Any thread: the next loop, round-robin.
  EventLoop& next() noexcept;
  EventLoop& at(std::size_t index) { return *loops_.at(index); }
  std::size_t size() const noexcept { return loops_.size(); }

  // Any thread but a loop of this group: stops every listener at once, lets channels work for
  // `quiet`, then closes them, each given until `timeout` to write what was flushed; fires
  // their close futures, stops the loops, closes every libuv handle and joins the threads.
  // Blocks until done, also when another thread is already shutting the group down; once it
  // is done, calling it again does nothing. From a loop of the group it throws
  // std::logic_error (it would wait for itself) and leaves the group running.
  void shutdown_gracefully(std::chrono::milliseconds quiet = std::chrono::milliseconds(0),
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool is_terminated() const noexcept;

  LoopMetrics metrics() const noexcept;  // summed over the loops

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::atomic<std::size_t> next_{0};
  std::mutex shutdown_mutex_;
  bool shut_down_ = false;  // guarded by shutdown_mutex_
};

}  // namespace sluice
