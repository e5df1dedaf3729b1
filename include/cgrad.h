/* cgrad — a small autograd tensor framework in C11 with PyTorch's semantics.
 * The umbrella header: tensors, autograd, nn and optim. */
#ifndef CGRAD_H
#define CGRAD_H

#include "cgrad/tensor.h"
#include "cgrad/autograd.h"
#include "cgrad/nn.h"
#include "cgrad/optim.h"
#include "cgrad/dist.h"

#endif
