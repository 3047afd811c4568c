#pragma once
// A SQLite VFS over the default one that plays the disk the way SQLite's own crash tests do
// (https://www.sqlite.org/testing.html#crash_testing): every write to a database or WAL file
// since that file's last fsync is remembered, and at a simulated power cut each of them is kept,
// torn (only its first sectors) or lost, at random from a seed, in the file itself. From the cut
// on every I/O fails, as if the process had died with the power, until disarm(). It also fails
// writes on demand with SQLITE_FULL or SQLITE_IOERR, for the disk-full and EIO drills.
//
// Registered as the process's default VFS by install(), so every connection the gateway opens
// (store writer, accounts, platform sender) goes through it unchanged.
#include <cstdint>
#include <filesystem>

namespace orderly::test {

class CrashVfs {
 public:
  enum class Fault { none, disk_full, io_error };

  // Registers the VFS as the default (once per process) and returns it.
  static CrashVfs& install();

  // Forgets every unsynced write and fault, seeds the cut's choices, counts from zero.
  void reset(std::uint64_t seed);
  // The power is cut at the n-th write or fsync from now (n >= 1); 0 = never.
  void cut_after(std::uint64_t n);
  bool cut() const;
  // Ends the cut: I/O works again (the test then removes the -shm file, lost with the RAM, and
  // reopens). Keeps nothing of the cut's bookkeeping.
  void disarm();
  // Writes (and, for io_error, fsyncs) fail with this fault until set back to none.
  void inject(Fault fault);

  // Writes and fsyncs seen since reset(): the span a cut point is drawn from.
  std::uint64_t operations() const;
  // Unsynced writes the last cut lost or tore (so a test can tell that cuts bit).
  std::uint64_t writes_lost() const;

 private:
  CrashVfs() = default;
};

}  // namespace orderly::test
