#include "sluice/channel/channel_group.hpp"

#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sluice {

struct ChannelGroup::State {
  explicit State(std::string group_name) : name(std::move(group_name)) {}

  // The node is returned so that the member's reference is let go after the lock: the last
  // reference to a channel may set its destruction going.
  auto extract(std::uint64_t id) {
    std::lock_guard lock(mutex);
    return members.extract(id);
  }
  // The channel has closed: its callback has run, and a channel that closed is never let in.
  auto forget(std::uint64_t id) {
    std::lock_guard lock(mutex);
    watched.erase(id);
    return members.extract(id);
  }

  // Appends the members to `into`, under the lock.
  void copy_members(std::vector<ChannelPtr>& into) const {
    std::lock_guard lock(mutex);
    into.reserve(into.size() + members.size());
    for (const auto& [id, member] : members)
      into.push_back(member);
  }

  const std::string name;
  mutable std::mutex mutex;
  std::unordered_map<std::uint64_t, ChannelPtr> members;  // by Channel::id()
  // The channels whose close future holds the group's callback, members or not. A future's
  // callbacks cannot be taken back: one per join would pile up on a channel that leaves and
  // joins again while it stays open (a subscriber that comes and goes), without bound.
  std::unordered_set<std::uint64_t> watched;
};

namespace {

// Counts down the members an operation reached, plus one held by the operation itself until it
// has reached them all, so that a member finishing at once cannot finish the whole early.
class Countdown {
 public:
  void add() {
    std::lock_guard lock(mutex_);
    ++outstanding_;
  }
  // True for the call that brought the count to zero.
  bool done() {
    std::lock_guard lock(mutex_);
    return --outstanding_ == 0;
  }

 protected:
  std::mutex mutex_;

 private:
  std::size_t outstanding_ = 1;
};

class WriteTally final : public Countdown {
 public:
  explicit WriteTally(GroupWriteCallback done) : done_(std::move(done)) {}

  void record(const ChannelPtr& member, const Error& error) {
    {
      std::lock_guard lock(mutex_);
      if (error) {
        report_.failed.emplace_back(member, error);
      } else {
        ++report_.succeeded;
      }
    }
    finish_one();
  }
  void finish_one() {
    if (done()) done_(report_);
  }

 private:
  GroupWriteReport report_;  // complete, and no longer touched, when the count reaches zero
  GroupWriteCallback done_;
};

class CloseTally final : public Countdown {
 public:
  Future<void> future() const { return promise_.future(); }
  void finish_one() {
    if (done()) promise_.set_value();
  }

 private:
  Promise<void> promise_;  // no loop: the callbacks run where the last member closed
};

// Vectors left by finished snapshots on this thread, for the next to fill. A snapshot taken by
// one of the thread's later destructors (its embedded loop running what was queued to it, a
// static) comes after the list is gone: a trivially destructible flag tells it to keep its
// vector to itself.
thread_local bool t_spare_vectors_gone = false;

struct SpareVectors {
  std::vector<std::vector<ChannelPtr>> vectors;

  ~SpareVectors() { t_spare_vectors_gone = true; }
};

thread_local SpareVectors t_spare_vectors;

}  // namespace

ChannelMatcher ChannelMatcher::all_except(const Channel& excluded) {
  // By id, not address: a matcher kept after its channel is gone must not exclude a new channel
  // that happens to be allocated where the old one was.
  return ChannelMatcher(
      [excluded = excluded.id()](const Channel& channel) { return channel.id() != excluded; });
}

ChannelGroup::ChannelGroup(std::string name) : state_(std::make_shared<State>(std::move(name))) {}

ChannelGroup::~ChannelGroup() = default;

const std::string& ChannelGroup::name() const noexcept {
  return state_->name;
}

bool ChannelGroup::add(ChannelPtr channel) {
  if (!channel || !channel->is_open()) return false;
  const std::uint64_t id = channel->id();
  bool watch = false;
  {
    std::lock_guard lock(state_->mutex);
    const auto [member, added] = state_->members.try_emplace(id, channel);
    if (!added) return false;
    try {
      watch = state_->watched.insert(id).second;
    } catch (...) {
      state_->members.erase(member);  // not the last reference: the caller holds one
      throw;
    }
  }
  if (!watch) return true;
  // A channel that closed since the check above completes its future already: this runs at
  // once (or on its loop), and the channel leaves as it would have.
  try {
    channel->close_future().then([state = std::weak_ptr(state_), id](const Result<void>&) {
      if (const std::shared_ptr<State> group = state.lock()) group->forget(id);
    });
  } catch (...) {
    state_->forget(id);  // with no callback, it would stay after it closed
    throw;
  }
  return true;
}

bool ChannelGroup::remove(const Channel& channel) {
  return !state_->extract(channel.id()).empty();
}

std::size_t ChannelGroup::clear() {
  std::unordered_map<std::uint64_t, ChannelPtr> former;
  {
    std::lock_guard lock(state_->mutex);
    former.swap(state_->members);
  }
  return former.size();
}

bool ChannelGroup::contains(const Channel& channel) const {
  std::lock_guard lock(state_->mutex);
  return state_->members.contains(channel.id());
}

std::size_t ChannelGroup::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->members.size();
}

std::vector<ChannelPtr> ChannelGroup::members() const {
  std::vector<ChannelPtr> copy;
  state_->copy_members(copy);
  return copy;
}

std::size_t ChannelGroup::write_each(MessageSource source, const ChannelMatcher& matcher,
                                     bool flush, GroupWriteCallback done) {
  const detail::ChannelGroupSnapshot snapshot(*this);
  std::size_t reached = 0;
  // Callbacks only when a report is asked for, as for a single write.
  const auto tally = done ? std::make_shared<WriteTally>(std::move(done)) : nullptr;
  // A matcher or a message copy that throws stops the write there; the members reached so far
  // still report, so the write's own count is given back either way.
  try {
    for (const ChannelPtr& member : snapshot) {
      if (!matcher(*member)) continue;
      WriteCallback record;
      if (tally) {
        tally->add();
        record = [tally, member](const Error& error) { tally->record(member, error); };
      }
      if (flush) {
        member->write_and_flush(source.copy(source.object), std::move(record));
      } else {
        member->write(source.copy(source.object), std::move(record));
      }
      ++reached;
    }
  } catch (...) {
    if (tally) tally->finish_one();
    throw;
  }
  if (tally) tally->finish_one();
  return reached;
}

void ChannelGroup::flush(const ChannelMatcher& matcher) {
  for (const ChannelPtr& member : detail::ChannelGroupSnapshot(*this)) {
    if (matcher(*member)) member->flush();
  }
}

Future<void> ChannelGroup::close(const ChannelMatcher& matcher) {
  return close_each(matcher, false);
}

Future<void> ChannelGroup::close_when_flushed(const ChannelMatcher& matcher) {
  return close_each(matcher, true);
}

Future<void> ChannelGroup::close_each(const ChannelMatcher& matcher, bool when_flushed) {
  const auto tally = std::make_shared<CloseTally>();
  Future<void> all_closed = tally->future();
  for (const ChannelPtr& member : detail::ChannelGroupSnapshot(*this)) {
    if (!matcher(*member)) continue;
    tally->add();
    member->close_future().then([tally](const Result<void>&) { tally->finish_one(); });
    if (when_flushed) {
      member->close_when_flushed();
    } else {
      member->close();
    }
  }
  tally->finish_one();
  return all_closed;
}

namespace detail {

ChannelGroupSnapshot::ChannelGroupSnapshot(const ChannelGroup& group) {
  if (!t_spare_vectors_gone && !t_spare_vectors.vectors.empty()) {
    members_ = std::move(t_spare_vectors.vectors.back());
    t_spare_vectors.vectors.pop_back();
  }
  group.state_->copy_members(members_);
}

ChannelGroupSnapshot::~ChannelGroupSnapshot() {
  members_.clear();  // before the vector is offered again: these references may be the last
  if (t_spare_vectors_gone) return;
  try {
    t_spare_vectors.vectors.push_back(std::move(members_));
  } catch (const std::bad_alloc&) {
    // Not kept: the next snapshot on this thread allocates its own vector.
  }
}

}  // namespace detail

}  // namespace sluice
