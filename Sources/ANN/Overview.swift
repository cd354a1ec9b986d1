// ANN — feed-forward networks for neuromorph: Tensor, layers, Sequential, losses, optimisers,
// training loop, model files.
//
// Data layout: Float32, contiguous, row-major; images NCHW. `Tensor` is a value type with
// copy-on-write storage.
//
// Layers (`Layer` protocol): Dense, Conv2D, AvgPool2D, MaxPool2D, ReLU, Flatten, BatchNorm (1-D/2-D),
// Dropout. Each has an explicit `forward(x, ctx)` and `backward(dy, needInputGradient:, threads:)`;
// parameters are `Parameter`s (value + grad) with PyTorch names. `Sequential` composes them with
// indices that match `torch.nn.Sequential`, so state-dict keys ("0.weight", "1.running_mean", ...)
// are the same.
//
// For the converter (ANN -> SNN):
//   for (i, layer) in model.layers.enumerated() {
//       switch layer.spec {                       // kind + hyper-parameters (LayerSpec)
//       case .dense: let d = layer as! Dense      // d.weight.value [out, in], d.bias?.value [out]
//       case .conv2d(_, _, let k, let s, let p, _): let c = layer as! Conv2D   // weight [out, in, kh, kw]
//       case .batchNorm: let bn = layer as! BatchNorm  // gamma, beta, runningMean, runningVar, eps
//       case .avgPool2d(let k, let s): ...
//       case .maxPool2d(let k, let s, let p): ...         // p: padding (as -inf)
//       case .relu, .flatten, .dropout: ...
//       }
//   }
//   model.predict(x, threads:)       inference (evaluation mode) on a batch
//   model.activations(x, threads:)   every layer's output for a batch (data-based normalisation)
//   ModelDirectory.load(path)        a saved model folder (model.json + model.safetensors)
//
// Threads and determinism: all parallelism is OpenMP inside the C kernels (Sources/CANN/ann*.c),
// with the thread count passed per call. OpenBLAS runs single-threaded inside our OpenMP blocks: its
// own pool would spin against libomp's on 2 cores, and OpenBLAS 0.3.21 sgemm is not bit-identical
// between 1 and 2 of its threads (measured for 64x512x784). Every work partition that affects a
// floating-point sum (GEMM blocks, convolution chunks of samples, lane sums) is a function of the
// problem shape only, and reductions over the batch (weight and bias gradients, BatchNorm statistics,
// losses) run in a fixed order; elementwise kernels split freely. Weights after training are
// therefore bit-identical for any thread count (tested), and a resumed run equals an uninterrupted one
// (randomness is derived from (seed, epoch) for shuffling and (seed, step, layer) for dropout).
