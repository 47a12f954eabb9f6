// nnlab's public API in one include, as <torch/torch.h> is libtorch's:
//
//   #include <nnlab/nnlab.h>
//   using namespace nnlab;
//   Backend& cpu = get_backend("cpu");                        // backends by name
//   Generator gen(0);                                         // one seed fixes everything
//   auto model = models::make_mlp(784, {128}, 10, cpu, gen);  // or your own nn::Module
//   optim::Adam opt(model->parameters(), AdamParams{});
//   Tensor loss = ops::nll_loss(model->forward(x), labels);   // x, labels: tensors on cpu
//   opt.zero_grad(); loss.backward(); opt.step();
//
// examples/ shows whole programs: a custom model and training loop, a custom op, a custom
// CUDA kernel, PyTorch weights from safetensors.
//
// What is where (torch's name in brackets):
//   Tensor, Shape, DType                nnlab/core/tensor.h            [torch.Tensor]
//   ops::matmul, conv2d, relu, ...      nnlab/core/ops.h               [torch.nn.functional]
//   record, NoGradGuard                 nnlab/core/autograd.h          [autograd.Function, no_grad]
//   AutocastGuard                       nnlab/core/autocast.h          [torch.autocast]
//   gradcheck                           nnlab/core/gradcheck.h         [torch.autograd.gradcheck]
//   Generator, uniform_, normal_        nnlab/core/random.h            [torch.Generator, nn.init]
//   nn::Module, Linear, Conv2d, ...     nnlab/nn/                      [torch.nn]
//   optim::Sgd, optim::Adam             nnlab/optim/optimizer.h        [torch.optim]
//   optim::GradScaler                   nnlab/optim/grad_scaler.h      [torch.cuda.amp.GradScaler]
//   data::MnistIdx, Cifar10,            nnlab/data/                    [torchvision.datasets,
//     ImageFolder, DataLoader                                           torch.utils.data]
//   models::make_mlp, make_lenet, ...   nnlab/models/                  [torchvision.models]
//   get_backend, available_backends     nnlab/backends/registry.h      [torch.device]
//   save/load_checkpoint                nnlab/core/checkpoint.h        [torch.save / torch.load]
//   save/load_safetensors               nnlab/core/safetensors.h       [safetensors.torch]
//   Profiler                            nnlab/core/profiler.h          [torch.profiler]
// Custom CUDA kernels include nnlab/backends/cuda/portable.h instead (docs/adding_a_kernel.md).
#pragma once

#include "nnlab/config.h"

#include "nnlab/core/autocast.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/dtype.h"
#include "nnlab/core/gradcheck.h"
#include "nnlab/core/numerics.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"
#include "nnlab/core/random.h"
#include "nnlab/core/safetensors.h"
#include "nnlab/core/shape.h"
#include "nnlab/core/tensor.h"

#include "nnlab/nn/layers.h"
#include "nnlab/nn/module.h"

#include "nnlab/optim/grad_scaler.h"
#include "nnlab/optim/optimizer.h"

#include "nnlab/data/cifar10.h"
#include "nnlab/data/dataset.h"
#include "nnlab/data/idx.h"
#include "nnlab/data/image_folder.h"
#include "nnlab/data/loader.h"
#include "nnlab/data/paths.h"

#include "nnlab/models/cnn.h"
#include "nnlab/models/lenet.h"
#include "nnlab/models/mlp.h"
#include "nnlab/models/resnet.h"
#include "nnlab/models/zoo.h"

#include "nnlab/backends/registry.h"
