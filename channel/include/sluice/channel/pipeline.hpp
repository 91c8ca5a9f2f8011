#pragma once

#include <boost/intrusive/list.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/channel/handler_context.hpp"

namespace sluice {

class Channel;

namespace detail {

// The transport end of every pipeline: outbound operations that reach it go to the channel.
class HeadHandler final : public ChannelHandler {
 public:
  explicit HeadHandler(Channel& channel) : channel_(channel) {}
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;
  void flush(HandlerContext& ctx) override;
  void read(HandlerContext& ctx) override;
  void close(HandlerContext& ctx, CloseMode mode) override;
  void shutdown_output(HandlerContext& ctx) override;

 private:
  Channel& channel_;
};

// The application end: inbound events nobody consumed end here. Messages are dropped (and
// logged at debug level); an error is logged and closes the channel.
class TailHandler final : public ChannelHandler {
 public:
  explicit TailHandler(Channel& channel) : channel_(channel) {}
  void on_active(HandlerContext&) override {}
  void on_inactive(HandlerContext&) override {}
  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext&) override {}
  void on_user_event(HandlerContext& ctx, Message&& event) override;
  void on_writability_changed(HandlerContext&) override {}
  void on_error(HandlerContext& ctx, const Error& error) override;

 private:
  Channel& channel_;
};

}  // namespace detail

// A channel's chain of handlers, by name, between the transport (head) and the tail.
//
//   transport -> head -> [decoder] -> [aggregator] -> [app] -> tail      inbound: fire_*
//   transport <- head <- [encoder] <-----------------  [app]             outbound: write ...
//
// Handlers can be added, removed and replaced at any time on the loop thread, from handlers
// too (a protocol upgrade swaps its codec mid-stream); a removed handler's context lives until
// the end of the loop iteration, so an event already passing through it finishes its way.
//
// Handlers added through the templated functions record, at compile time, which events they
// override; each context points straight at the next context that handles each event, so an
// event skips the handlers that would only forward it. A handler handed over through a pointer
// to a base class (std::unique_ptr<ChannelHandler>) gets every event.
//
// Names are unique within a pipeline; an unknown or duplicate name throws PipelineError. A
// handler whose on_added throws is not added: it is removed again and add_*() or replace()
// rethrows its exception (see ChannelHandler::on_added).
class Pipeline {
 public:
  explicit Pipeline(Channel& channel);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  template <typename H>
  Pipeline& add_last(std::string name, std::unique_ptr<H> handler) {
    return insert_owned(Where::kLast, {}, std::move(name), std::move(handler));
  }
  template <typename H>
  Pipeline& add_first(std::string name, std::unique_ptr<H> handler) {
    return insert_owned(Where::kFirst, {}, std::move(name), std::move(handler));
  }
  template <typename H>
  Pipeline& add_before(std::string_view base, std::string name, std::unique_ptr<H> handler) {
    return insert_owned(Where::kBefore, base, std::move(name), std::move(handler));
  }
  template <typename H>
  Pipeline& add_after(std::string_view base, std::string name, std::unique_ptr<H> handler) {
    return insert_owned(Where::kAfter, base, std::move(name), std::move(handler));
  }
  // A handler shared by many pipelines (it must keep no per-channel state).
  template <typename H>
  Pipeline& add_last(std::string name, std::shared_ptr<H> handler) {
    auto* context = make_context(std::move(name), handler.get(), events_of(*handler));
    context->shared_ = std::move(handler);
    return insert(Where::kLast, {}, context);
  }
  // Constructs the handler in place and returns it.
  template <typename H, typename... Args>
  H& emplace_last(std::string name, Args&&... args) {
    auto handler = std::make_unique<H>(std::forward<Args>(args)...);
    H& result = *handler;
    add_last(std::move(name), std::move(handler));
    return result;
  }

  // Takes the named handler out (its on_removed runs now, its destruction at the end of the
  // loop iteration).
  void remove(std::string_view name);
  void remove(const ChannelHandler& handler);
  // Puts `replacement` where `old_name` was; `new_name` may be `old_name`. What the old handler
  // passes on as it leaves (from on_removed, or from an event still on its stack) goes through
  // the replacement, inbound and outbound, as in Netty.
  template <typename H>
  void replace(std::string_view old_name, std::string new_name, std::unique_ptr<H> replacement) {
    static_assert(std::is_base_of_v<ChannelHandler, H>);
    HandlerContext& old = require(old_name);
    auto* context =
        make_context(std::move(new_name), replacement.get(), events_of(*replacement), &old);
    context->owned_ = std::move(replacement);
    insert(Where::kAfter, old_name, context);  // found by its name: the replacement is not in yet
    if (!old.is_removed()) unlink(old, context);  // the replacement's on_added may have removed it
  }

  ChannelHandler* get(std::string_view name) const noexcept;
  HandlerContext* context(std::string_view name) const noexcept;
  HandlerContext* context(const ChannelHandler& handler) const noexcept;
  std::vector<std::string> names() const;
  Channel& channel() const noexcept { return channel_; }

  // Inbound events, from the transport: they start at the head.
  void fire_active() { head_.fire_active(); }
  void fire_inactive() { head_.fire_inactive(); }
  void fire_read(Message&& message) { head_.fire_read(std::move(message)); }
  void fire_read_complete() { head_.fire_read_complete(); }
  void fire_user_event(Message&& event) { head_.fire_user_event(std::move(event)); }
  void fire_writability_changed() { head_.fire_writability_changed(); }
  void fire_error(const Error& error) { head_.fire_error(error); }

  // Outbound operations, from the application: they start at the tail.
  void write(Message&& message, WriteCallback done = {}) {
    tail_.write(std::move(message), std::move(done));
  }
  void flush() { tail_.flush(); }
  void write_and_flush(Message&& message, WriteCallback done = {}) {
    tail_.write_and_flush(std::move(message), std::move(done));
  }
  void read() { tail_.read(); }
  void close(CloseMode mode = CloseMode::kNow) { tail_.close(mode); }
  void shutdown_output() { tail_.shutdown_output(); }

  // Removes every handler (on_removed runs for each); the channel calls this before it dies.
  // Adding a handler meanwhile (from an on_removed) throws PipelineError.
  void clear() noexcept;

 private:
  enum class Where { kFirst, kLast, kBefore, kAfter };

  template <typename H>
  Pipeline& insert_owned(Where where, std::string_view base, std::string name,
                         std::unique_ptr<H> handler) {
    static_assert(std::is_base_of_v<ChannelHandler, H>);
    auto* context = make_context(std::move(name), handler.get(), events_of(*handler));
    context->owned_ = std::move(handler);
    return insert(where, base, context);
  }
  // The events to route to `handler`: those H overrides when H is its dynamic type; every
  // event when it was handed over as a base class, whose mask could miss a derived override.
  template <typename H>
  static std::uint32_t events_of(const H& handler) noexcept {
    if constexpr (std::is_final_v<H>) {
      return overridden_events<H>();
    } else {
      return typeid(handler) == typeid(H) ? overridden_events<H>() : kAllEvents;
    }
  }
  // `replacing`: the context the new one replaces, whose name it may take.
  HandlerContext* make_context(std::string name, ChannelHandler* handler, std::uint32_t events,
                               const HandlerContext* replacing = nullptr);
  Pipeline& insert(Where where, std::string_view base, HandlerContext* context);
  // `replacement`: the context taking this one's place, through which what the leaving handler
  // passes on (from on_removed, or from an event still on its stack) travels either way.
  void unlink(HandlerContext& context, HandlerContext* replacement = nullptr);
  void detach(HandlerContext& context, HandlerContext* replacement = nullptr) noexcept;
  void relink() noexcept;
  HandlerContext& require(std::string_view name) const;

  using ContextList = boost::intrusive::list<
      HandlerContext,
      boost::intrusive::member_hook<HandlerContext, boost::intrusive::list_member_hook<>,
                                    &HandlerContext::hook_>>;

  Channel& channel_;
  detail::HeadHandler head_handler_;
  detail::TailHandler tail_handler_;
  HandlerContext head_;
  HandlerContext tail_;
  ContextList contexts_;   // head_, the handlers in order, tail_
  bool clearing_ = false;  // clear() is running: insert() refuses
};

}  // namespace sluice
