global using NUnit.Framework;
global using GpuConv.Reference;
