#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/message.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/future.hpp"
#include "sluice/core/unique_function.hpp"

namespace sluice {

// Says whether a channel is one an operation should reach.
template <typename Predicate>
concept ChannelPredicate = std::is_invocable_r_v<bool, const Predicate&, const Channel&>;

// Which members of a ChannelGroup an operation reaches: all of them unless a predicate says
// otherwise. The predicate runs on the calling thread, with no lock held.
class ChannelMatcher {
 public:
  ChannelMatcher() = default;
  template <ChannelPredicate Predicate>
  ChannelMatcher(Predicate predicate)  // NOLINT: implicit, so that a lambda can be passed
      : predicate_(std::move(predicate)) {}

  // Every member but `excluded`: the others in a chat room, not the sender of the line.
  static ChannelMatcher all_except(const Channel& excluded);

  bool operator()(const Channel& channel) const { return !predicate_ || predicate_(channel); }

 private:
  std::function<bool(const Channel&)> predicate_;
};

// What a group write came to, once the write to every member it reached has completed.
struct GroupWriteReport {
  std::size_t succeeded = 0;
  std::vector<std::pair<ChannelPtr, Error>> failed;

  bool ok() const noexcept { return failed.empty(); }
};
// Runs once, on the thread that completed the last of the members' writes (one of their loops,
// or the caller's when that write failed at once or no member was reached).
using GroupWriteCallback = unique_function<void(const GroupWriteReport&)>;

// What a ChannelGroup can give each of its members: buffers, shared, and copyable messages.
template <typename T>
concept GroupMessage =
    std::copy_constructible<T> || std::same_as<T, Buffer> || std::same_as<T, CompositeBuffer>;

namespace detail {
class ChannelGroupSnapshot;
}

// A set of open channels, on any loops, written to and closed together: the members of a chat
// room, the subscribers of a topic, the connections a server wants to close as one. A channel
// leaves the group by itself when it closes: as its close future completes, after its
// on_inactive. A notice its on_inactive writes to the group reaches it too, and fails, unless
// the matcher leaves it out (ChannelMatcher::all_except).
//
// Any thread. The group's lock is held only to change or copy the membership, never while a
// member is written to or closed: either can run handlers on the calling thread (a failed
// write, a close that fires the member's on_inactive), and those may join, leave or write to
// this group in turn. An operation reaches the members as they were when it began: a channel
// that joins meanwhile is not reached, one that leaves meanwhile may still be.
//
// The group holds a reference to each member until the member closes or is removed. Shutting
// down the members' event loop group closes them all, so they have left by the time it
// returns; the rule that no channel outlives its loop then holds for the group too. Destroying
// the group leaves its members open. A channel that has joined carries one callback of the
// group on its close future until it closes, however often it leaves and joins again; a group
// made afresh for each use leaves one more on its members each time, so a group is for keeping.
class ChannelGroup {
 public:
  explicit ChannelGroup(std::string name = "channel group");
  ~ChannelGroup();
  ChannelGroup(const ChannelGroup&) = delete;
  ChannelGroup& operator=(const ChannelGroup&) = delete;

  const std::string& name() const noexcept;

  // False when the channel is a member already, or closed already (it would leave again at once).
  bool add(ChannelPtr channel);
  // False when the channel was not a member.
  bool remove(const Channel& channel);
  // Lets every member go, open or not, and returns how many there were.
  std::size_t clear();
  bool contains(const Channel& channel) const;
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  // The members now, in no particular order: a copy, for the caller to keep.
  std::vector<ChannelPtr> members() const;
  // Calls visit(Channel&) for each member now, with no lock held. The list is copied into a
  // vector this thread keeps for the purpose: in steady state, going through the members (and
  // writing to them) allocates nothing of the group's own. The visit runs on the calling
  // thread, which is not the loop of a member on another one: it keeps to what Channel allows
  // from any thread there (attributes() and bytes_written(), for two, are the loop's alone).
  template <std::invocable<Channel&> Visit>
  void for_each(Visit&& visit) const;

  // Writes `message` to each matching member and returns how many members it was written to.
  // A Buffer goes to each as a slice sharing its storage, a CompositeBuffer as slices of its
  // components (no copy of the bytes); a message of any other copyable type, for the members'
  // encoders, as a copy. `done`, when given, hears how the writes went: after write(), only
  // once they have been flushed (or failed). A matcher or message copy that throws stops the
  // write at that member; the exception reaches the caller, and `done` still hears of the
  // members reached before it.
  template <GroupMessage T>
  std::size_t write(const T& message, const ChannelMatcher& matcher = {},
                    GroupWriteCallback done = {}) {
    return write_each(MessageSource::of(message), matcher, false, std::move(done));
  }
  template <GroupMessage T>
  std::size_t write_and_flush(const T& message, const ChannelMatcher& matcher = {},
                              GroupWriteCallback done = {}) {
    return write_each(MessageSource::of(message), matcher, true, std::move(done));
  }
  void flush(const ChannelMatcher& matcher = {});

  // Closes each matching member. The future completes once all of them have closed (their
  // on_inactive run), on the thread that closed the last; at once when none matched.
  Future<void> close(const ChannelMatcher& matcher = {});
  // As close(), each member closing once what was flushed to it has been written.
  Future<void> close_when_flushed(const ChannelMatcher& matcher = {});

 private:
  friend class detail::ChannelGroupSnapshot;
  struct State;

  // A message to copy for each member, without a template on the path that writes it.
  struct MessageSource {
    const void* object;
    Message (*copy)(const void* object);

    template <typename T>
    static MessageSource of(const T& message) {
      return {&message,
              [](const void* object) { return Message(T(*static_cast<const T*>(object))); }};
    }
    static MessageSource of(const CompositeBuffer& bytes) {
      return {&bytes, [](const void* object) {
                const auto& whole = *static_cast<const CompositeBuffer*>(object);
                CompositeBuffer slices;
                for (std::size_t i = 0; i < whole.component_count(); ++i)
                  slices.append(whole.component(i).slice());
                return Message(std::move(slices));
              }};
    }
    static MessageSource of(const Buffer& bytes) {
      return {&bytes, [](const void* object) {
                return Message(static_cast<const Buffer*>(object)->slice());
              }};
    }
  };

  std::size_t write_each(MessageSource source, const ChannelMatcher& matcher, bool flush,
                         GroupWriteCallback done);
  Future<void> close_each(const ChannelMatcher& matcher, bool when_flushed);

  std::shared_ptr<State> state_;  // shared with the members' close callbacks, which outlive it
};

namespace detail {

// The members of a group at one moment, held in a vector taken from the calling thread's
// spares and given back at the end: a visit that writes to a group takes a snapshot of its
// own, so each nesting level has its vector.
class ChannelGroupSnapshot {
 public:
  explicit ChannelGroupSnapshot(const ChannelGroup& group);
  ~ChannelGroupSnapshot();
  ChannelGroupSnapshot(const ChannelGroupSnapshot&) = delete;
  ChannelGroupSnapshot& operator=(const ChannelGroupSnapshot&) = delete;

  std::vector<ChannelPtr>::const_iterator begin() const noexcept { return members_.begin(); }
  std::vector<ChannelPtr>::const_iterator end() const noexcept { return members_.end(); }
  std::size_t size() const noexcept { return members_.size(); }

 private:
  std::vector<ChannelPtr> members_;
};

}  // namespace detail

template <std::invocable<Channel&> Visit>
void ChannelGroup::for_each(Visit&& visit) const {
  const detail::ChannelGroupSnapshot snapshot(*this);
  for (const ChannelPtr& member : snapshot)
    visit(*member);
}

}  // namespace sluice
