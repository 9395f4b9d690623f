namespace GpuConv.ImageFilters;

static class Program
{
    static int Main(string[] args) => FilterApp.Run(args, Console.Out, Console.Error);
}
