#include "hive/core/notifier.h"

#include <map>
#include <mutex>

namespace hive {

struct Notifier::State {
  mutable std::mutex mu;
  uint64_t next_id = 1;                              // guarded by mu
  std::map<uint64_t, Notifier::Listener> listeners;  // guarded by mu; by id = by age
};

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    cancel_ = std::move(other.cancel_);
    other.cancel_ = nullptr;
  }
  return *this;
}

Subscription Subscription::All(std::vector<Subscription> parts) {
  auto shared = std::make_shared<std::vector<Subscription>>(std::move(parts));
  return Subscription([shared] {
    for (Subscription& s : *shared) s.Reset();
  });
}

void Subscription::Reset() {
  if (!cancel_) return;
  std::function<void()> cancel = std::move(cancel_);
  cancel_ = nullptr;
  cancel();
}

Notifier::Notifier() : state_(std::make_shared<State>()) {}

Notifier::~Notifier() {
  std::lock_guard lock(state_->mu);
  state_->listeners.clear();
}

Subscription Notifier::Subscribe(Listener listener) {
  uint64_t id;
  {
    std::lock_guard lock(state_->mu);
    id = state_->next_id++;
    state_->listeners.emplace(id, std::move(listener));
  }
  return Subscription([weak = std::weak_ptr<State>(state_), id] {
    if (std::shared_ptr<State> state = weak.lock()) {
      // Taking the lock also waits for a Notify() that is running this listener.
      std::lock_guard lock(state->mu);
      state->listeners.erase(id);
    }
  });
}

void Notifier::Notify() {
  std::lock_guard lock(state_->mu);
  for (auto& [id, listener] : state_->listeners) listener();
}

size_t Notifier::listeners() const {
  std::lock_guard lock(state_->mu);
  return state_->listeners.size();
}

}  // namespace hive
