using Spectre.Console;
using Spectre.Console.Rendering;

namespace GpuConv.Cli.Commands;

/// <summary>Adds table rows as plain text (layer names contain '[' and ']', which Spectre would read as markup).</summary>
static class TableText
{
    public static void AddPlainRow(this Table table, params string[] cells) =>
        table.AddRow(cells.Select(c => (IRenderable)new Text(c)));
}
