#!/usr/bin/env bash
# Packs src/GpuConv and proves the package alone works: builds and runs tests/PackageConsumer against a
# folder feed holding only that package, with a private package folder and NuGet config (a fresh machine and
# a machine with an older GpuConv 0.1.0 in ~/.nuget/packages behave the same), then publishes it trimmed as
# one self-contained file and as Native AOT (where a C linker is present) and runs each executable.
# Exit 0 when it all holds.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
# Engines opened with default options (the README samples) keep their plans here, never in the user's own cache.
export GPUCONV_PLAN_CACHE="$work/default-plans.json"
echo "+ dotnet pack src/GpuConv -c Release -o $feed"
dotnet pack "$root/src/GpuConv/GpuConv.csproj" -c Release -o "$feed" --nologo -v q
nupkg="$(ls "$feed"/GpuConv.*.nupkg | grep -v '\.snupkg$' | head -n 1)"
version="$(basename "$nupkg" .nupkg)"; version="${version#GpuConv.}"
cp -r "$root/tests/PackageConsumer" "$work/consumer"
rm -rf "$work/consumer/bin" "$work/consumer/obj"
cat > "$work/consumer/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$work/packages" /></config>
  <packageSources><clear /><add key="local" value="$feed" /></packageSources>
</configuration>
XML
# The package README's C# samples (the page nuget.org shows), compiled into the consumer as written: each block
# becomes a method (its `using` lines go to the file's top); the consumer runs the first (the device-resident chain).
# awk, not python: a bare SDK machine has no python.
readme_samples() { # README OUT-DIR: writes PackageReadme.SampleN.cs, prints the sample count
  awk -v out="$2" '
    /^```csharp/ { n++; inblock = 1; head = ""; body = ""; next }
    /^```/ && inblock {
      f = out "/PackageReadme.Sample" n ".cs"
      printf "%s\nstatic partial class PackageReadme\n{\n    internal static void Sample%d()\n    {\n%s    }\n}\n", head, n, body > f
      close(f); inblock = 0; next }
    inblock && /^using [A-Za-z0-9_.]+;/ { head = head $0 "\n"; next }
    inblock { body = body "        " $0 "\n" }
    END { print n + 0 }' "$1"
}
samples="$(readme_samples "$root/src/GpuConv/PACKAGE.md" "$work/consumer")"
[ "$samples" -ge 2 ] || { echo "expected at least 2 C# samples in src/GpuConv/PACKAGE.md, found $samples"; exit 1; }
cat > "$work/consumer/PackageReadme.Run.cs" <<'CS'
static partial class PackageReadme
{
    static partial void RunFirstSample(ref bool ran)
    {
        Sample1();
        ran = true;
    }
}
CS
echo "+ dotnet build consumer (GpuConv $version from $feed only; $samples package README samples compiled in)"
dotnet build "$work/consumer/PackageConsumer.csproj" -c Release -p:GpuConvVersion="$version" --nologo -v q
# The restore must have taken GpuConv as a package from the feed (never as a project).
assets="$work/consumer/obj/project.assets.json"
grep -q "\"GpuConv/$version\": {" "$assets" && ! grep -q '"type": "project"' "$assets" \
  || { echo "GpuConv was not restored as a package from $feed"; exit 1; }
grep -q "$work/packages" "$assets" || { echo "restore did not use the private package folder"; exit 1; }
echo "+ run consumer"
dotnet "$work/consumer/bin/Release/net10.0/PackageConsumer.dll" "$nupkg" | tee "$work/jit.log"
# The SIMD tier the JIT uses here; a Native AOT build for this machine must reach the same one.
tier="$(sed -n 's/^engine: .*, \([a-z0-9+]*\) (.* memory).*/\1/p' "$work/jit.log")"

# The ways applications ship: each publish must be free of GpuConv warnings (the consumer treats warnings as
# errors, so a trim or AOT warning from the package fails here) and its executable must pass the same checks.
case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64) rid=linux-arm64 ;; *) rid="" ;; esac
publish() { # NAME PROPERTIES...: publish the consumer, then run its executable
  local name=$1; shift
  local start=$SECONDS
  echo "+ dotnet publish consumer ($name: $*)"
  dotnet publish "$work/consumer/PackageConsumer.csproj" -c Release -r "$rid" -p:GpuConvVersion="$version" \
    -o "$work/$name" --nologo -v q "$@"
  echo "  published in $((SECONDS - start)) s: $(du -sh "$work/$name/PackageConsumer" | cut -f1) executable"
  echo "+ run $name executable"
  "$work/$name/PackageConsumer"
}
if [ -z "$rid" ]; then echo "publish checks skipped: no runtime identifier for $(uname -m)"; exit 0; fi
# Publishing needs the runtime pack, the trimmer and the AOT compiler from the machine's usual NuGet sources:
# the config no longer clears them. GpuConv itself is already in the private package folder, taken from the
# local feed by the restore checked above, and an exact version found there is never looked up again.
sed -i 's|<clear />||' "$work/consumer/nuget.config"
# The package's publish-time warning: Native AOT at the baseline instruction set raises GPUCONV001.
echo "+ GpuConv.targets: Native AOT without IlcInstructionSet"
if out="$(dotnet msbuild "$work/consumer/PackageConsumer.csproj" -t:GpuConvWarnAotBaselineSimd -p:PublishAot=true \
    -p:RuntimeIdentifier="$rid" -p:GpuConvVersion="$version" -nologo 2>&1)"; ! grep -q "warning GPUCONV001" <<<"$out"; then
  echo "$out"; echo "expected warning GPUCONV001 from the package's buildTransitive/GpuConv.targets"; exit 1
fi
echo "  GPUCONV001 raised"
publish trimmed-single-file --self-contained -p:PublishTrimmed=true -p:PublishSingleFile=true
# Native AOT links with the system's C toolchain; a machine without one (a bare SDK image) cannot publish it.
if command -v clang >/dev/null || command -v gcc >/dev/null; then
  GPUCONV_CONSUMER_SIMD="$tier" publish native-aot -p:PublishAot=true -p:IlcInstructionSet=native
else
  echo "Native AOT publish skipped: no clang or gcc to link with on this machine"
fi
