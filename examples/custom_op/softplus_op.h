// softplus(x) = log(1 + exp(beta x)) / beta: a smooth relu, registered as an op of this
// program (dagrad has none of that name). After register_softplus() it is an op like any
// other: graphs use it, autograd differentiates it, the scheduler runs it.
#pragma once
#include <dagrad/dagrad.h>

#include <source_location>

// Adds "softplus" to the op registry; call once, before building graphs that use it.
void register_softplus();

// The node builder, like those of ops/ops.h: checks, infers the type, computes nothing.
dagrad::Value softplus(dagrad::Value x, double beta = 1.0,
                       const std::source_location& loc = std::source_location::current());
