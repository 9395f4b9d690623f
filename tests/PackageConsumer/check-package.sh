#!/usr/bin/env bash
# Packs src/GpuConv and proves the package alone works: builds and runs tests/PackageConsumer against a
# folder feed holding only that package, with a private package folder and NuGet config (a fresh machine and
# a machine with an older GpuConv 0.1.0 in ~/.nuget/packages behave the same). Exit 0 when it all holds.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
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
echo "+ dotnet build consumer (GpuConv $version from $feed only)"
dotnet build "$work/consumer/PackageConsumer.csproj" -c Release -p:GpuConvVersion="$version" --nologo -v q
# The restore must have taken GpuConv as a package from the feed (never as a project).
assets="$work/consumer/obj/project.assets.json"
grep -q "\"GpuConv/$version\": {" "$assets" && ! grep -q '"type": "project"' "$assets" \
  || { echo "GpuConv was not restored as a package from $feed"; exit 1; }
grep -q "$work/packages" "$assets" || { echo "restore did not use the private package folder"; exit 1; }
echo "+ run consumer"
dotnet "$work/consumer/bin/Release/net10.0/PackageConsumer.dll" "$nupkg"
