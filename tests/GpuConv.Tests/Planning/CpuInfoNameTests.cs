using GpuConv.Planning;

namespace GpuConv.Tests.Planning;

/// <summary>The CPU's name in plan keys from /proc/cpuinfo text as x86 and ARM64 Linux kernels write it.</summary>
public class CpuInfoNameTests
{
    [Test]
    public void X86TakesTheModelName()
    {
        string[] lines = ["processor\t: 0", "vendor_id\t: AuthenticAMD", "cpu family\t: 25", "model\t\t: 1",
            "model name\t: AMD EPYC 7B13", "flags\t\t: fpu avx2 fma", "", "processor\t: 1", "model name\t: AMD EPYC 7B13"];
        Assert.That(CpuInfoName.From(lines), Is.EqualTo("AMD EPYC 7B13"));
    }

    /// <summary>An ARM64 kernel (here a Neoverse N1, as on Graviton 2) writes no model name: implementer and part name it.</summary>
    [Test]
    public void Arm64TakesImplementerAndPart()
    {
        string[] lines = ["processor\t: 0", "BogoMIPS\t: 243.75", "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics",
            "CPU implementer\t: 0x41", "CPU architecture: 8", "CPU variant\t: 0x3", "CPU part\t: 0xd0c", "CPU revision\t: 1", "",
            "processor\t: 1", "CPU implementer\t: 0x41", "CPU part\t: 0xd0c"];
        Assert.That(CpuInfoName.From(lines), Is.EqualTo("arm64 implementer 0x41 part 0xd0c"));
    }

    [Test]
    public void NeitherGivesNull()
    {
        Assert.That(CpuInfoName.From(["processor\t: 0", "BogoMIPS\t: 50.00", "model\t\t: 1", "CPU implementer\t: 0x41"]), Is.Null);
        Assert.That(CpuInfoName.From([]), Is.Null);
    }
}
