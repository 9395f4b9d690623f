namespace GpuConv.Cpu.Threading;

/// <summary>Runs independent tasks on up to a given number of threads, each worker with a rented workspace set.</summary>
internal static class CpuParallel
{
    public static void For(int count, int threads, WorkspacePool pool, Action<int, WorkspaceSet> body)
    {
        if (count <= 0) return;
        if (count == 1 || threads <= 1)
        {
            var set = pool.Rent();
            try { for (int i = 0; i < count; i++) body(i, set); }
            finally { pool.Return(set); }
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads },
            pool.Rent,
            (i, _, set) => { body(i, set); return set; },
            pool.Return);
    }
}
