"""An instance's /proc/cpuinfo shows the flavor's vcpus (``local_init.write_cpuinfo``, bound over it at boot)."""

from __future__ import annotations

from kumo.compute.drivers.local_init import write_cpuinfo

HOST = "processor\t: 0\nmodel name\t: A\n\nprocessor\t: 1\nmodel name\t: B\n\n"


def _processors(text: str) -> list[str]:
    return [line.split(":")[1].strip() for line in text.splitlines() if line.startswith("processor")]


def test_cpuinfo_has_the_flavors_vcpus_and_follows_a_resize_in_place(tmp_path):
    host = tmp_path / "host"
    host.write_text(HOST)
    path = tmp_path / "cpuinfo"
    write_cpuinfo(path, 1, host)
    assert _processors(path.read_text()) == ["0"] and "model name\t: A" in path.read_text()
    inode = path.stat().st_ino
    write_cpuinfo(path, 4, host)  # more than the host has: its last processor repeated
    text = path.read_text()
    assert _processors(text) == ["0", "1", "2", "3"] and text.count("model name\t: B") == 3
    assert path.stat().st_ino == inode  # rewritten in place: a bind mount of it sees the change
