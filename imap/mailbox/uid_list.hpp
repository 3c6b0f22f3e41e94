// imap/mailbox/uid_list.hpp — the selected mailbox's UIDs in ascending order (sequence
// number n is the n-th), kept as runs of consecutive UIDs: a mailbox whose UIDs are
// mostly dense (delivery order, few expunges) costs a few bytes per run instead of four
// per message (100,000 messages: ~400 KB per connection as a vector, 8 bytes as one run;
// 500 IDLE connections each hold one). Random-access iterators (O(log runs) to jump,
// O(1) to step), so std::lower_bound and friends work on it.
// Not thread-safe (one connection's engine owns it).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

namespace refmail::imap::mailbox {

class UidList {
  struct Run {
    std::uint32_t first = 0;  // UIDs first .. first + count - 1
    std::uint32_t count = 0;
  };

 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = std::uint32_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::uint32_t;

    const_iterator() = default;
    std::uint32_t operator*() const { return list_->runs_[run_].first + static_cast<std::uint32_t>(index_ - list_->starts_[run_]); }
    std::uint32_t operator[](difference_type n) const { return *(*this + n); }
    const_iterator& operator++() {
      ++index_;
      if (run_ < list_->runs_.size() && index_ >= list_->starts_[run_] + list_->runs_[run_].count) ++run_;
      return *this;
    }
    const_iterator operator++(int) {
      auto t = *this;
      ++*this;
      return t;
    }
    const_iterator& operator--() { return *this -= 1; }
    const_iterator operator--(int) {
      auto t = *this;
      --*this;
      return t;
    }
    const_iterator& operator+=(difference_type n) {
      index_ = static_cast<std::size_t>(static_cast<difference_type>(index_) + n);
      run_ = list_->run_of(index_);
      return *this;
    }
    const_iterator& operator-=(difference_type n) { return *this += -n; }
    friend const_iterator operator+(const_iterator a, difference_type n) { return a += n; }
    friend const_iterator operator+(difference_type n, const_iterator a) { return a += n; }
    friend const_iterator operator-(const_iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return static_cast<difference_type>(a.index_) - static_cast<difference_type>(b.index_);
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.index_ == b.index_; }
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) { return a.index_ <=> b.index_; }

   private:
    friend class UidList;
    const_iterator(const UidList* l, std::size_t index) : list_(l), index_(index), run_(l->run_of(index)) {}
    const UidList* list_ = nullptr;
    std::size_t index_ = 0;
    std::size_t run_ = 0;  // the run holding index_ (runs_.size() at the end)
  };

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::uint32_t back() const { return runs_.back().first + runs_.back().count - 1; }
  [[nodiscard]] std::uint32_t front() const { return runs_.front().first; }
  // The UID of sequence number i + 1.
  [[nodiscard]] std::uint32_t operator[](std::size_t i) const {
    const auto r = run_of(i);
    return runs_[r].first + static_cast<std::uint32_t>(i - starts_[r]);
  }
  [[nodiscard]] const_iterator begin() const { return const_iterator(this, 0); }
  [[nodiscard]] const_iterator end() const { return const_iterator(this, size_); }

  // REQUIRES: empty() or uid > back().
  void push_back(std::uint32_t uid) {
    if (!runs_.empty() && uid == back() + 1) {
      ++runs_.back().count;
    } else {
      runs_.push_back(Run{uid, 1});
      starts_.push_back(static_cast<std::uint32_t>(size_));
    }
    ++size_;
  }
  // Removes the UIDs in `ascending` (any not held are ignored); one pass over the runs.
  void remove(const std::vector<std::uint32_t>& ascending) {
    if (ascending.empty() || empty()) return;
    UidList out;  // rebuilt run by run
    auto gone = ascending.begin();
    for (const auto& run : runs_) {
      std::uint32_t u = run.first;
      const std::uint64_t end = std::uint64_t{run.first} + run.count;
      while (u < end) {
        gone = std::lower_bound(gone, ascending.end(), u);
        // Keep u .. (next removed UID in this run, or the run's end) - 1.
        const std::uint64_t stop = gone == ascending.end() ? end : std::min<std::uint64_t>(end, *gone);
        out.push_range(u, static_cast<std::uint32_t>(stop - u));
        if (stop >= end) break;
        u = static_cast<std::uint32_t>(stop) + 1;  // skip the removed one
      }
    }
    *this = std::move(out);
  }
  // Every UID, as a vector (for a walk over rows that takes one).
  [[nodiscard]] std::vector<std::uint32_t> to_vector() const { return std::vector<std::uint32_t>(begin(), end()); }
  // Runs held (for tests and memory accounting).
  [[nodiscard]] std::size_t runs() const noexcept { return runs_.size(); }

 private:
  void push_range(std::uint32_t first, std::uint32_t count) {
    if (count == 0) return;
    if (!runs_.empty() && first == back() + 1) {
      runs_.back().count += count;
    } else {
      runs_.push_back(Run{first, count});
      starts_.push_back(static_cast<std::uint32_t>(size_));
    }
    size_ += count;
  }
  // The run holding index i; runs_.size() when i >= size_.
  [[nodiscard]] std::size_t run_of(std::size_t i) const {
    if (i >= size_) return runs_.size();
    auto it = std::upper_bound(starts_.begin(), starts_.end(), static_cast<std::uint32_t>(i));
    return static_cast<std::size_t>(it - starts_.begin()) - 1;
  }

  std::vector<Run> runs_;
  std::vector<std::uint32_t> starts_;  // starts_[k]: the index of runs_[k].first
  std::size_t size_ = 0;
};

}  // namespace refmail::imap::mailbox
