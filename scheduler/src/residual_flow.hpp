#pragma once
// A maximum flow kept between calls, for the fair-share search (optimal.cpp, fair_shares()).
// Progressive filling changes the caps of a few EVs' share arcs per step and asks again; a
// network simplex run starts from zero every time (about 20 ms at 1000 EVs x 96 slots, and a
// capacity-short day takes hundreds of such steps), while re-augmenting the flow already
// found touches only what changed. Dinic's blocking flows: the network is a few layers deep
// (grid, slot, node, EV, sink), so few phases.
#include <cstdint>
#include <utility>
#include <vector>

namespace orderly::scheduler::detail {

class ResidualFlow {
 public:
  using Units = std::int64_t;

  explicit ResidualFlow(int nodes);

  // Returns the arc's index for capacity() / flow() / set_capacity(). Build all arcs before
  // the first augment().
  int add_arc(int from, int to, Units capacity);

  Units flow(int arc) const;

  // Raising keeps the flow; lowering below the flow takes the surplus off the arc and leaves
  // it as excess at the arc's tail, for drain_excess() to send back.
  void set_capacity(int arc, Units capacity);

  // Sends every excess left by set_capacity() back to `to` through the residual network,
  // never through `avoid` (the sink: passing it would take energy off another EV's share).
  // Always possible: the excess arrived from `to` along paths that did not pass `avoid`.
  void drain_excess(int to, int avoid);

  // Augments from `from` to `to` until the flow is maximum. An augmenting path never crosses
  // an arc into `to` backwards (it would have to leave `to` first), so no share arc's flow
  // ever goes down: EVs frozen at their shares stay there.
  void augment(int from, int to);

  // Nodes reachable from `from` in the residual network (1/0 per node), after augment():
  // the source side of the minimal minimum cut.
  const std::vector<char>& reachable_from(int from);

 private:
  void build_adjacency();
  // Blocking flows from the given (node, amount) sources to `to`; amounts are reduced by what
  // was sent.
  void route(std::vector<std::pair<int, Units>>& sources, int to, int avoid);
  Units push(int node, int to, Units amount);

  int nodes_;
  std::vector<std::pair<int, int>> ends_;  // per arc as added: from, to
  std::vector<Units> initial_;             // per arc as added: capacity before the first search
  // Residual arcs grouped by tail (first_out_ per node): head, residual capacity, and where
  // the opposite direction sits; position_ maps an added arc to its forward entry.
  std::vector<int> first_out_, head_, mate_, position_;
  std::vector<Units> residual_;
  // residual_ of each entry's mate, kept beside it: the search towards a target reads arcs
  // backwards, and jumping to the mate for every arc was half its time.
  std::vector<Units> mate_residual_;
  std::vector<Units> excess_;  // per node, left by lowering a capacity
  std::vector<int> level_, next_out_;
  std::vector<char> reached_, is_source_;
  std::vector<int> queue_;
  bool built_ = false;
};

}  // namespace orderly::scheduler::detail
