// Times the CPU backend's backward-filter (first candidate) — or with --op data its backward-data, with --op forward its
// forward again (as the "backward" side: every forward candidate with --all, PyTorch's F.conv2d as the peer) — against its
// forward of the same layer, per unique layer of a shape CSV (samples/GpuConv.Cli/shapes), per-call weights (as in
// training). Prints one tab-separated line per layer: key, forward algorithm, forward ms, backward algorithm, backward
// ms (medians over the single calls of all rounds: a shared 2-core machine descheduling a worker for a 4 ms tick should
// not move a mean), and with --all every backward candidate's median. Usage:
//   dotnet run -c Release -- <csv> <batch> <threads> <rounds> [--all] [--only substring] [--op filter|data|forward]
using System.Diagnostics;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

string csv = args[0];
int batch = int.Parse(args[1]), threads = int.Parse(args[2]), rounds = int.Parse(args[3]);
bool all = args.Contains("--all");
string? only = Array.IndexOf(args, "--only") is var oi && oi >= 0 ? args[oi + 1] : null;
string op = Array.IndexOf(args, "--op") is var opi && opi >= 0 ? args[opi + 1] : "filter";
bool data = op == "data", forward = op == "forward";
using var cpu = new CpuBackend(threads);
var seen = new HashSet<string>();
foreach (var line in File.ReadLines(csv).Skip(1))
{
    var f = line.Split(',');
    int[] v = f.Skip(2).Select(int.Parse).ToArray();
    var (c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, g) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]);
    string key = $"{c}x{h}x{w}->{k} {r}x{s}/{sh} p{ph} d{dh} g{g}";
    if (!seen.Add(key) || (only is not null && !key.Contains(only) && !f[0].Contains(only))) continue;
    var spec = new ConvSpec([r, s], [sh, sw], [dh, dw], [ph, pw], groups: g);
    var xs = new TensorShape(batch, c, h, w);
    var ws = new TensorShape(k, c / g, r, s);
    var fwd = ConvProblem.Create(spec, xs, ws, ConvOp.Forward);
    var bwf = ConvProblem.Create(spec, xs, ws, data ? ConvOp.BackwardData : forward ? ConvOp.Forward : ConvOp.BackwardFilter);
    var x = HostTensor.Random(xs, 1);
    var wt = HostTensor.Random(ws, 2);
    var y = HostTensor.Random(fwd.YShape, 3);
    var dW = new HostTensor(ws);
    var fwdT = new ConvTensors(x, wt, new HostTensor(fwd.YShape));
    // dx from (w, dy), y from (x, w), or dW from (x, dy).
    var bwfT = data ? new ConvTensors(new HostTensor(xs), wt, y) : forward ? new ConvTensors(x, wt, new HostTensor(fwd.YShape)) : new ConvTensors(x, dW, y);
    var fAlg = cpu.GetAlgorithms(fwd, ConvPrecision.Strict)[0];
    var bAlgs = cpu.GetAlgorithms(bwf, ConvPrecision.Strict).ToArray();
    if (!all) bAlgs = bAlgs[..1];
    cpu.Run(fwd, fAlg, fwdT); cpu.Run(bwf, bAlgs[0], bwfT);
    // Calls per side and round: enough for ~20 ms (at most 50).
    double once = Math.Max(cpu.TimeRun(fwd, fAlg, fwdT), cpu.TimeRun(bwf, bAlgs[0], bwfT));
    int reps = Math.Clamp((int)(20 / Math.Max(once, 1e-3)), 1, 50);
    var times = new List<double>[1 + bAlgs.Length];
    for (int i = 0; i < times.Length; i++) times[i] = [];
    for (int round = -2; round < rounds; round++)
    {
        // Alternate the order of the sides from round to round.
        for (int j0 = 0; j0 < times.Length; j0++)
        {
            int j = (j0 + round + 2) % times.Length;
            for (int q = 0; q < reps; q++)
            {
                long t0 = Stopwatch.GetTimestamp();
                if (j == 0) cpu.Run(fwd, fAlg, fwdT);
                else cpu.Run(bwf, bAlgs[j - 1], bwfT);
                if (round >= 0) times[j].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }
    }
    static double Median(List<double> l) { var a = l.Order().ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
    var cells = new List<string> { key, f[0], fAlg.Name, Median(times[0]).ToString("F4") };
    for (int j = 0; j < bAlgs.Length; j++) { cells.Add(bAlgs[j].Name); cells.Add(Median(times[j + 1]).ToString("F4")); }
    // Last column: the fastest single call of each side (a loaded machine's noise floor), comma-separated.
    cells.Add("min:" + string.Join(',', times.Select(l => l.Min().ToString("F4"))));
    Console.WriteLine(string.Join('\t', cells));
}
