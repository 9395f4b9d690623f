using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.NativeFakes;

/// <summary>
/// Runs the fake driver's cuLaunchKernel on the project's PTX interpreter: the fake hands over the module's
/// PTX text, the entry name, the geometry and cuLaunchKernel's kernelParams array; the parameters are read
/// with the sizes the entry's .param list declares (so a wrong argument list fails here as it would corrupt
/// the launch on a device), and the kernel runs over the whole grid against the fake's device memory.
/// A fault (out-of-bounds or misaligned access, a bad argument) is CUDA_ERROR_ILLEGAL_ADDRESS or
/// CUDA_ERROR_LAUNCH_FAILED, with the interpreter's message on stderr; a launch that races with another stream
/// (the fake's ordering check) is CUDA_ERROR_ILLEGAL_STATE.
/// </summary>
static unsafe class NativeFakeLaunchHook
{
    const int IllegalState = 401, IllegalAddress = 700, LaunchFailed = 719;
    static readonly Dictionary<string, PtxModule> Modules = new(StringComparer.Ordinal);

    /// <summary>
    /// Managed bytes the interpreter allocated on this thread while running launches (the fake runs a kernel on the
    /// launching thread): allocation tests subtract them, since on a device a launch runs no managed code.
    /// </summary>
    [ThreadStatic] public static long BytesAllocatedOnThisThread;

    /// <summary>Registers the hook with the fake driver (once per process).</summary>
    public static void Register()
    {
        var set = NativeFakeLibraries.Export<nint>("gpuconv_fake_set_launch_hook");
        ((delegate* unmanaged<delegate* unmanaged<byte*, byte*, uint*, uint*, uint, void**, void*, int>, void>)set)(&Launch);
    }

    [UnmanagedCallersOnly]
    static int Launch(byte* ptx, byte* entry, uint* grid, uint* block, uint sharedBytes, void** parameters, void* stream)
    {
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        try { return Interpret(ptx, entry, grid, block, parameters, stream); }
        finally { BytesAllocatedOnThisThread += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore; }
    }

    static int Interpret(byte* ptx, byte* entry, uint* grid, uint* block, void** parameters, void* stream)
    {
        string name = Marshal.PtrToStringUTF8((nint)entry) ?? "";
        try
        {
            var kernel = ModuleOf(Marshal.PtrToStringUTF8((nint)ptx) ?? "")[name];
            if (parameters == null && kernel.Params.Count > 0) throw new PtxException($"{name}: kernelParams is null");
            var args = new object[kernel.Params.Count];
            for (int i = 0; i < args.Length; i++)
            {
                var p = kernel.Params[i];
                void* value = parameters[i];
                if (value == null) throw new PtxException($"{name}: kernelParams[{i}] ({p.Name}) is null");
                args[i] = (p.Type.Bits(), p.Type.IsFloat()) switch
                {
                    (64, false) => *(ulong*)value,
                    (32, true) => *(float*)value,
                    (32, false) => (object)*(uint*)value,
                    _ => throw new PtxException($"{name}: parameter {p.Name} of type {p.Type} is not modelled"),
                };
            }
            var memory = NativeFakeMemory.Snapshot();
            // Every pointer argument counts as read and written on the launch's stream, for the fake's ordering check.
            var pointers = args.OfType<ulong>().Where(a => memory.AllocationContaining(a) is not null).ToArray();
            if (pointers.Length > 0 && StreamOp(stream, name, pointers))
                return IllegalState;
            new PtxInterpreter(memory).Launch(kernel,
                new PtxDim3((int)grid[0], (int)grid[1], (int)grid[2]), new PtxDim3((int)block[0], (int)block[1], (int)block[2]), args);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[gpuconv-fake launch hook] {name}: {e.GetType().Name}: {e.Message}");
            return e.Message.Contains("address", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("misaligned", StringComparison.Ordinal)
                ? IllegalAddress : LaunchFailed;
        }
    }

    static bool StreamOp(void* stream, string name, ulong[] pointers)
    {
        var op = NativeFakeLibraries.Export<nint>("gpuconv_fake_stream_op");
        var what = System.Text.Encoding.UTF8.GetBytes($"cuLaunchKernel({name})\0");
        fixed (byte* w = what) fixed (ulong* p = pointers)
            return ((delegate* unmanaged<void*, byte*, int, ulong*, int, ulong*, int>)op)(stream, w, 0, null, pointers.Length, p) != 0;
    }

    static PtxModule ModuleOf(string text)
    {
        lock (Modules)
        {
            if (!Modules.TryGetValue(text, out var module)) Modules[text] = module = PtxParser.Parse(text);
            return module;
        }
    }
}
