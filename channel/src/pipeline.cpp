#include "sluice/channel/pipeline.hpp"

#include <array>
#include <utility>

#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/core/log.hpp"

namespace sluice {

namespace {

constexpr std::array<std::uint32_t, kInboundEventCount> kInboundBits = {
    kOnActive,    kOnInactive,           kOnRead, kOnReadComplete,
    kOnUserEvent, kOnWritabilityChanged, kOnError};
constexpr std::array<std::uint32_t, kOutboundEventCount> kOutboundBits = {kWrite, kFlush, kRead,
                                                                          kClose, kShutdownOutput};

}  // namespace

// --- head and tail ---------------------------------------------------------------------------

// Outbound operations reach the socket here. A HandlerContext (or Pipeline) used from another
// thread would race the loop on the outbound queue and the socket, so every build stops it here
// by name; Channel's own methods are the thread-safe way in (they queue to the loop).
void detail::HeadHandler::write(HandlerContext&, Message&& message, WriteCallback&& done) {
  channel_.loop().require_in_loop("HandlerContext::write (use Channel::write off the loop)");
  channel_.do_write(std::move(message), std::move(done));
}
void detail::HeadHandler::flush(HandlerContext&) {
  channel_.loop().require_in_loop("HandlerContext::flush (use Channel::flush off the loop)");
  channel_.do_flush();
}
void detail::HeadHandler::read(HandlerContext&) {
  channel_.loop().require_in_loop("HandlerContext::read (use Channel::read off the loop)");
  channel_.do_read();
}
void detail::HeadHandler::close(HandlerContext&, CloseMode mode) {
  channel_.loop().require_in_loop("HandlerContext::close (use Channel::close off the loop)");
  channel_.close_from_head(mode);
}
void detail::HeadHandler::shutdown_output(HandlerContext&) {
  channel_.loop().require_in_loop(
      "HandlerContext::shutdown_output (use Channel::shutdown_output off the loop)");
  channel_.do_shutdown_output();
}

void detail::TailHandler::on_read(HandlerContext&, Message&& message) {
  channel_.on_unhandled_read(std::move(message));
}
void detail::TailHandler::on_user_event(HandlerContext&, Message&& event) {
  channel_.on_unhandled_user_event(std::move(event));
}
void detail::TailHandler::on_error(HandlerContext&, const Error& error) {
  channel_.on_unhandled_error(error);
}

// --- pipeline --------------------------------------------------------------------------------

Pipeline::Pipeline(Channel& channel)
    : channel_(channel),
      head_handler_(channel),
      tail_handler_(channel),
      head_(*this, "head", &head_handler_, overridden_events<detail::HeadHandler>()),
      tail_(*this, "tail", &tail_handler_, overridden_events<detail::TailHandler>()) {
  contexts_.push_back(head_);
  contexts_.push_back(tail_);
  relink();
}

Pipeline::~Pipeline() {
  clear();
  contexts_.clear();
}

void Pipeline::clear() noexcept {
  // Refused while clearing: a handler whose on_removed adds one back (itself again, say) kept
  // this loop going for ever, each addition removed in turn and adding the next.
  const bool was_clearing = std::exchange(clearing_, true);
  while (contexts_.size() > 2) {
    HandlerContext& context = *std::next(contexts_.begin());
    detach(context);
    delete &context;
  }
  clearing_ = was_clearing;
}

HandlerContext* Pipeline::make_context(std::string name, ChannelHandler* handler,
                                       std::uint32_t events, const HandlerContext* replacing) {
  const HandlerContext* taken = context(name);
  if (name == head_.name() || name == tail_.name() || (taken != nullptr && taken != replacing)) {
    throw PipelineError("a handler named '" + name + "' is already in the pipeline");
  }
  return new HandlerContext(*this, std::move(name), handler, events);
}

Pipeline& Pipeline::insert(Where where, std::string_view base, HandlerContext* context) {
  std::unique_ptr<HandlerContext> owned(context);
  channel_.loop().assert_in_loop("Pipeline::add");
  if (clearing_) {
    throw PipelineError("cannot add '" + context->name() +
                        "': the pipeline is removing every handler (its channel is going away)");
  }
  ContextList::iterator position;
  switch (where) {
    case Where::kFirst:
      position = std::next(contexts_.begin());
      break;
    case Where::kLast:
      position = contexts_.iterator_to(tail_);
      break;
    case Where::kBefore:
      position = contexts_.iterator_to(require(base));
      break;
    case Where::kAfter:
      position = std::next(contexts_.iterator_to(require(base)));
      break;
  }
  contexts_.insert(position, *owned.release());
  relink();
  try {
    context->handler().on_added(*context);
  } catch (...) {
    // A handler that failed to set itself up must not see traffic: it leaves again (its
    // on_removed runs, to undo what on_added did before throwing) and the caller, who can
    // still act on it, gets the exception. Kept and sent to its on_error, it stayed in the
    // pipeline half set up, and replace() went on to remove the handler it replaced.
    if (!context->is_removed()) unlink(*context);  // on_added may have removed it already
    throw;
  }
  return *this;
}

void Pipeline::remove(std::string_view name) {
  unlink(require(name));
}

void Pipeline::remove(const ChannelHandler& handler) {
  HandlerContext* found = context(handler);
  if (found == nullptr) throw PipelineError("remove: the handler is not in this pipeline");
  unlink(*found);
}

void Pipeline::detach(HandlerContext& context, HandlerContext* replacement) noexcept {
  const auto position = contexts_.iterator_to(context);
  HandlerContext& before = *std::prev(position);
  HandlerContext& after = *std::next(position);
  contexts_.erase(position);
  context.removed_ = true;
  relink();
  // What the leaving handler still passes on (from on_removed, or from an event on its stack)
  // goes to its neighbours, which forward it along the pipeline as it is then: skip links
  // taken now would go past handlers added later beyond a neighbour that does not handle the
  // event, which forwarding reaches. A neighbour that leaves in turn does the same.
  // Outbound, a replacement (added right after it) comes first, as it does inbound.
  context.next_.fill(&after);
  context.prev_.fill(replacement != nullptr && !replacement->removed_ ? replacement : &before);
  try {
    context.handler().on_removed(context);
  } catch (const std::exception& error) {
    logger().warn("handler '{}' threw from on_removed: {}", context.name(), error.what());
  } catch (...) {
    logger().warn("handler '{}' threw from on_removed", context.name());
  }
}

void Pipeline::unlink(HandlerContext& context, HandlerContext* replacement) {
  channel_.loop().assert_in_loop("Pipeline::remove");
  detach(context, replacement);
  // Events may still be travelling through the context: it dies at the end of the iteration.
  HandlerContext* doomed = &context;
  EventLoop& loop = channel_.loop();
  if (loop.in_loop() && !loop.is_terminated()) {
    loop.defer([doomed] { delete doomed; });
  } else {
    delete doomed;
  }
}

void Pipeline::relink() noexcept {
  std::array<HandlerContext*, kInboundEventCount> next_inbound;
  next_inbound.fill(&tail_);
  for (auto it = contexts_.rbegin(); it != contexts_.rend(); ++it) {
    HandlerContext& context = *it;
    if (&context == &tail_) continue;
    context.next_ = next_inbound;
    for (int e = 0; e < kInboundEventCount; ++e) {
      if (context.handles(kInboundBits[static_cast<std::size_t>(e)])) {
        next_inbound[static_cast<std::size_t>(e)] = &context;
      }
    }
  }
  std::array<HandlerContext*, kOutboundEventCount> previous_outbound;
  previous_outbound.fill(&head_);
  for (HandlerContext& context : contexts_) {
    if (&context == &head_) continue;
    context.prev_ = previous_outbound;
    for (int e = 0; e < kOutboundEventCount; ++e) {
      if (context.handles(kOutboundBits[static_cast<std::size_t>(e)])) {
        previous_outbound[static_cast<std::size_t>(e)] = &context;
      }
    }
  }
}

HandlerContext& Pipeline::require(std::string_view name) const {
  HandlerContext* found = context(name);
  if (found == nullptr) {
    throw PipelineError("no handler named '" + std::string(name) + "' in the pipeline");
  }
  return *found;
}

HandlerContext* Pipeline::context(std::string_view name) const noexcept {
  for (const HandlerContext& context : contexts_) {
    if (&context != &head_ && &context != &tail_ && context.name() == name) {
      return const_cast<HandlerContext*>(&context);
    }
  }
  return nullptr;
}

HandlerContext* Pipeline::context(const ChannelHandler& handler) const noexcept {
  for (const HandlerContext& context : contexts_) {
    if (&context != &head_ && &context != &tail_ && &context.handler() == &handler) {
      return const_cast<HandlerContext*>(&context);
    }
  }
  return nullptr;
}

ChannelHandler* Pipeline::get(std::string_view name) const noexcept {
  HandlerContext* found = context(name);
  return found == nullptr ? nullptr : &found->handler();
}

std::vector<std::string> Pipeline::names() const {
  std::vector<std::string> result;
  for (const HandlerContext& context : contexts_) {
    if (&context != &head_ && &context != &tail_) result.push_back(context.name());
  }
  return result;
}

}  // namespace sluice
