using System.Collections.Concurrent;
using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>A kernel entry point in a loaded module.</summary>
internal sealed record CudaFunction(string Module, string Name, nint Handle);

/// <summary>
/// Loads embedded PTX into one context on first use (cuModuleLoadDataEx, with the JIT's info and error
/// logs captured so a bad kernel fails with the compiler's own message) and caches modules and functions.
/// </summary>
internal sealed unsafe class PtxModuleCache(ContextLifetime owner) : IDisposable
{
    const int LogBytes = 16 * 1024;

    readonly ConcurrentDictionary<string, ModuleHandle> _modules = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<(string, string), CudaFunction> _functions = new();
    readonly object _loadGate = new();

    /// <summary>The info log of the last successful JIT (warnings, register use), for diagnostics.</summary>
    public string LastInfoLog { get; private set; } = "";

    /// <summary>
    /// The entry, loaded on first use. A warm lookup allocates nothing: the loader is a static lambda given the cache as
    /// its state (a lambda capturing <c>this</c> was a delegate per call, 64 B on every launch).
    /// </summary>
    public CudaFunction GetFunction(string file, string entry) =>
        _functions.TryGetValue((file, entry), out var known) ? known
            : _functions.GetOrAdd((file, entry), static (key, cache) => cache.Resolve(key.Item1, key.Item2), this);

    CudaFunction Resolve(string file, string entry)
    {
        var module = GetModule(file);
        using var current = owner.Enter();
        var name = NativeText.ToUtf8Z(entry);
        nint fn;
        fixed (byte* p = name)
        {
            long started = NativeTrace.Start();
            var status = CudaDriver.cuModuleGetFunction(out fn, module.DangerousGetHandle(), p);
            NativeTrace.Record(started, "cuModuleGetFunction", NativeText.StatusLabel(status), $"{file}:{entry}");
            if (status != CuResult.Success)
                throw new CudaException(status, $"cuModuleGetFunction({file}:{entry})", $"no entry '{entry}' in {file}");
        }
        return new CudaFunction(file, entry, fn);
    }

    ModuleHandle GetModule(string file)
    {
        if (_modules.TryGetValue(file, out var m)) return m;
        lock (_loadGate)
        {
            if (_modules.TryGetValue(file, out m)) return m;
            m = Load(file, PtxResources.ReadImage(file));
            _modules[file] = m;
            return m;
        }
    }

    internal ModuleHandle Load(string file, byte[] image)
    {
        using var current = owner.Enter();
        var info = new byte[LogBytes];
        var error = new byte[LogBytes];
        fixed (byte* img = image)
        fixed (byte* pInfo = info)
        fixed (byte* pError = error)
        {
            CuJitOption* options = stackalloc CuJitOption[4]
            {
                CuJitOption.InfoLogBuffer, CuJitOption.InfoLogBufferSizeBytes,
                CuJitOption.ErrorLogBuffer, CuJitOption.ErrorLogBufferSizeBytes,
            };
            // Size options are passed by value in the pointer slot, as the driver API specifies.
            void** values = stackalloc void*[4] { pInfo, (void*)(nint)LogBytes, pError, (void*)(nint)LogBytes };
            long started = NativeTrace.Start();
            var status = CudaDriver.cuModuleLoadDataEx(out var module, img, 4, options, values);
            NativeTrace.Record(started, "cuModuleLoadDataEx", NativeText.StatusLabel(status), $"{file}");
            if (status != CuResult.Success)
            {
                string log = NativeText.FromBuffer(error);
                throw new CudaException(status, $"cuModuleLoadDataEx({file})", log.Length > 0 ? log : "the JIT gave no error log");
            }
            LastInfoLog = NativeText.FromBuffer(info);
            return new ModuleHandle(owner, module);
        }
    }

    public void Dispose()
    {
        _functions.Clear();
        foreach (var m in _modules.Values) m.Dispose();
        _modules.Clear();
    }
}
