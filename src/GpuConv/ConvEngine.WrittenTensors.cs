using GpuConv.Backends;
using GpuConv.Tensors;

namespace GpuConv;

// A tensor's value is what was last written to it (PyTorch's semantics, and a GPU's, whose backends prepare nothing):
// every engine op that writes a host tensor tells the CPU backends, which drop a prepared copy of it held as constant
// weights (ConvTensors.ConstantWeights) — an SGD step AddScaled(w, -lr, dw), Scale(w, a, output: w), dw written into w,
// Upload(data, w), a write through a Reshape view (it shares its source's array, the key of the prepared copies).
public sealed partial class ConvEngine
{
    /// <summary>The engine's CPU backends, whose prepared weights a write must drop; set once when the engine opens.</summary>
    readonly CpuBackend[] cpuBackends;

    /// <summary>
    /// After an op wrote <paramref name="written"/>: a host tensor's array is forgotten by every CPU backend that holds it
    /// prepared. Cheap for a tensor never prepared (no lock, nothing removed; see <see cref="CpuBackend.Written"/>) and
    /// allocation-free; device tensors have no prepared copies.
    /// </summary>
    void Wrote(Tensor? written)
    {
        if (written is not HostTensor host) return;
        var cpus = cpuBackends;
        for (int i = 0; i < cpus.Length; i++) cpus[i].Written(host.Data);
    }
}
