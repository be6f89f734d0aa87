#include "hive/core/notifier.h"

#include <prometheus/gauge.h>

#include <mutex>
#include <vector>

namespace hive {

// Listeners in slots, with the free ones listed for reuse: subscribing and
// ending a subscription cost O(1), and Notify() walks a vector.
struct Notifier::State {
  explicit State(prometheus::Gauge* g) : gauge(g) {}
  prometheus::Gauge* const gauge;
  mutable std::mutex mu;
  std::vector<Notifier::Listener> slots;  // guarded by mu; an empty one is free
  std::vector<uint32_t> free;             // guarded by mu
  size_t live = 0;                        // guarded by mu
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

Notifier::Notifier(prometheus::Gauge* listeners_gauge)
    : state_(std::make_shared<State>(listeners_gauge)) {}

Notifier::~Notifier() {
  std::lock_guard lock(state_->mu);
  if (state_->gauge != nullptr) state_->gauge->Decrement(static_cast<double>(state_->live));
  state_->slots.clear();
  state_->free.clear();
  state_->live = 0;
}

Subscription Notifier::Subscribe(Listener listener) {
  uint32_t index;
  {
    std::lock_guard lock(state_->mu);
    if (state_->free.empty()) {
      index = static_cast<uint32_t>(state_->slots.size());
      state_->slots.push_back(std::move(listener));
    } else {
      index = state_->free.back();
      state_->free.pop_back();
      state_->slots[index] = std::move(listener);
    }
    ++state_->live;
    if (state_->gauge != nullptr) state_->gauge->Increment();
  }
  return Subscription([weak = std::weak_ptr<State>(state_), index] {
    if (std::shared_ptr<State> state = weak.lock()) {
      // Taking the lock also waits for a Notify() that is running this listener.
      std::lock_guard lock(state->mu);
      if (index >= state->slots.size() || !state->slots[index]) return;  // the notifier went
      state->slots[index] = nullptr;
      state->free.push_back(index);
      --state->live;
      if (state->gauge != nullptr) state->gauge->Decrement();
    }
  });
}

void Notifier::Notify() {
  std::lock_guard lock(state_->mu);
  for (Listener& listener : state_->slots) {
    if (listener) listener();
  }
}

size_t Notifier::listeners() const {
  std::lock_guard lock(state_->mu);
  return state_->live;
}

}  // namespace hive
