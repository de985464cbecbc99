// Reverse-mode automatic differentiation as a graph transform. grad() appends the
// backward nodes to the same graph, built by each op's vjp rule from ordinary ops, so
// backward is scheduled, fused and run like forward, and can itself be differentiated.
#pragma once
#include <span>
#include <vector>

#include "ops/graph.h"

namespace dagrad::autograd {

// d loss / d wrt[i], one Value per wrt (same shape and dtype as wrt[i]).
//
// The backward nodes are appended to `g`. Only nodes on a path from some wrt to the loss
// are differentiated; gradients reaching a value along several paths are summed with
// add() in a deterministic order (reverse topological order of the consumers).
//
// - `loss` must be floating. A scalar loss is seeded with ones; a non-scalar loss needs
//   `seed`, a gradient of the loss's shape and dtype (ShapeError / TypeError otherwise).
// - A wrt that is not floating (labels, indices) is a TypeError naming it.
// - A wrt that the loss does not depend on gets zeros_like(wrt), not an error, so a
//   parameter that a branch ignores still has a gradient to feed an optimizer.
// - Inputs listed in an op's nondiff_inputs (labels, masks, the inputs of piecewise-
//   constant ops such as sign or argmax) carry no gradient and form no path: the op's
//   output is a constant for the derivative.
// - An op without a vjp reached through an input NOT in its nondiff_inputs (a forgotten
//   gradient rule) is a ValueError naming the node and where it was built, rather than a
//   silently zero gradient.
// Every check runs before the first node is appended: a refused call leaves `g` as it was.
std::vector<Value> grad(Graph& g, Value loss, std::span<const Value> wrt, Value seed = {});
std::vector<Value> grad(Graph& g, Value loss, std::vector<Value> wrt, Value seed = {});

// Hessian-vector products H·v, one per wrt, as grad(sum_i sum(grad_i * v[i]), wrt).
// v[i] must have wrt[i]'s shape and dtype and must not depend on any wrt (ValueError):
// v is held constant. Needs differentiable vjp rules along the path.
std::vector<Value> hvp(Graph& g, Value loss, std::span<const Value> wrt, std::span<const Value> v);

}  // namespace dagrad::autograd
