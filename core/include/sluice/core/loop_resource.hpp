#pragma once

#include <boost/intrusive/list_hook.hpp>

#include <chrono>

namespace sluice {

// Something an event loop must wind down when it shuts down gracefully: a listener stops
// accepting, a channel writes what was flushed and closes. Registered with its loop while
// open (EventLoop::register_resource); every call comes on the loop thread.
class LoopResource {
 public:
  // Stop taking new work (a listener closes; a channel keeps serving what it has).
  virtual void on_stop_accepting() {}
  // Close once what has been flushed is written. Must unregister when closed.
  virtual void on_close_gracefully() = 0;
  // The deadline passed: close now, dropping what is unwritten.
  virtual void on_close_now() = 0;

  boost::intrusive::list_member_hook<> loop_hook;

 protected:
  ~LoopResource() = default;
};

}  // namespace sluice
