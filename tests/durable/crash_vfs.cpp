// The crash VFS (crash_vfs.hpp). Writes go through to the real file at once, so reads need no
// overlay; each one is logged with the bytes it replaced. A cut first rolls every logged write
// back (newest first, which restores each file exactly as it was at its last fsync), then
// replays a random selection of them oldest first, some torn at a 512-byte boundary: the states
// a disk may be left in when writes not yet synced reach it in any order, or partly.
#include "crash_vfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace orderly::test {
namespace {

constexpr const char* kName = "orderly-crash";
constexpr std::int64_t kTornUnit = 512;

struct Change {
  bool truncate = false;
  std::int64_t offset = 0;        // write: where; truncate: the new size
  std::vector<char> before;       // the bytes it replaced (write) or cut off (truncate)
  std::vector<char> after;        // what was written
  std::int64_t size_before = 0;   // the file's size just before
};

struct State {
  std::mutex mutex;
  sqlite3_vfs* base = nullptr;
  sqlite3_vfs vfs{};
  sqlite3_io_methods methods{};
  std::map<std::string, std::vector<Change>> unsynced;  // path -> changes since its last fsync
  std::mt19937_64 rng;
  std::uint64_t operations = 0;
  std::uint64_t cut_at = 0;
  bool cut = false;
  CrashVfs::Fault fault = CrashVfs::Fault::none;
  std::uint64_t writes_lost = 0;
};

State& state() {
  static State s;
  return s;
}

struct File {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;              // null: a file the cut does not touch (temp files)
};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }
const std::string* tracked(sqlite3_file* f) { return reinterpret_cast<File*>(f)->path; }

void fail_posix(const std::string& what, const std::string& path) {
  throw std::runtime_error("crash VFS: " + what + " " + path + ": " + std::strerror(errno));
}

// Plain POSIX on the path: the handles SQLite had may be closed by now.
void pwrite_all(int fd, const std::vector<char>& bytes, std::size_t count, std::int64_t offset,
                const std::string& path) {
  if (count == 0) return;
  if (::pwrite(fd, bytes.data(), count, offset) != static_cast<ssize_t>(count)) fail_posix("pwrite", path);
}

void roll_back(int fd, const Change& c, const std::string& path) {
  if (c.truncate) {
    if (::ftruncate(fd, c.size_before) != 0) fail_posix("ftruncate", path);
    pwrite_all(fd, c.before, c.before.size(), c.offset, path);
    return;
  }
  // Newest first, the file is now as this write left it: its old size drops what it appended.
  pwrite_all(fd, c.before, c.before.size(), c.offset, path);
  if (::ftruncate(fd, c.size_before) != 0) fail_posix("ftruncate", path);
}

// Called with the mutex held. Leaves every tracked file as the disk might after the power cut.
void cut_power(State& s) {
  s.cut = true;
  for (const auto& [path, changes] : s.unsynced) {
    const int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) continue;  // deleted since (a WAL after its last checkpoint)
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) roll_back(fd, *it, path);
    for (const auto& c : changes) {
      const auto pick = s.rng() % 4;  // 0: lost, 1: torn, 2-3: reached the disk
      if (pick == 0) {
        ++s.writes_lost;
        continue;
      }
      if (c.truncate) {
        if (::ftruncate(fd, c.offset) != 0) fail_posix("ftruncate", path);
        continue;
      }
      std::size_t count = c.after.size();
      if (pick == 1 && count > kTornUnit) {
        count = static_cast<std::size_t>(kTornUnit * static_cast<std::int64_t>(s.rng() % (count / kTornUnit)));
        ++s.writes_lost;
      }
      pwrite_all(fd, c.after, count, c.offset, path);
    }
    ::close(fd);
  }
  s.unsynced.clear();
}

// Counts a write or fsync and cuts the power when it is the chosen one; true: the power is off.
bool count_and_maybe_cut(State& s) {
  if (s.cut) return true;
  ++s.operations;
  if (s.cut_at != 0 && s.operations >= s.cut_at) cut_power(s);
  return s.cut;
}

std::int64_t file_size(sqlite3_file* f) {
  sqlite3_int64 size = 0;
  if (real(f)->pMethods->xFileSize(real(f), &size) != SQLITE_OK) return 0;
  return size;
}

std::vector<char> read_bytes(sqlite3_file* f, std::int64_t offset, std::int64_t count) {
  std::vector<char> out(static_cast<std::size_t>(count > 0 ? count : 0));
  if (!out.empty()) real(f)->pMethods->xRead(real(f), out.data(), static_cast<int>(out.size()), offset);
  return out;
}

int x_close(sqlite3_file* f) {
  auto* file = reinterpret_cast<File*>(f);
  const int rc = file->real->pMethods ? file->real->pMethods->xClose(file->real) : SQLITE_OK;
  delete file->path;
  sqlite3_free(file->real);
  return rc;
}

int x_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (tracked(f) && s.cut) return SQLITE_IOERR_READ;
  return real(f)->pMethods->xRead(real(f), out, amount, offset);
}

int x_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  const std::string* path = tracked(f);
  if (!path) return real(f)->pMethods->xWrite(real(f), data, amount, offset);
  if (count_and_maybe_cut(s)) return SQLITE_IOERR_WRITE;
  if (s.fault == CrashVfs::Fault::disk_full) return SQLITE_FULL;
  if (s.fault == CrashVfs::Fault::io_error) return SQLITE_IOERR_WRITE;
  Change c;
  c.offset = offset;
  c.size_before = file_size(f);
  c.before = read_bytes(f, offset, std::min<std::int64_t>(amount, c.size_before - offset));
  const auto* bytes = static_cast<const char*>(data);
  c.after.assign(bytes, bytes + amount);
  const int rc = real(f)->pMethods->xWrite(real(f), data, amount, offset);
  if (rc == SQLITE_OK) s.unsynced[*path].push_back(std::move(c));
  return rc;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  const std::string* path = tracked(f);
  if (!path) return real(f)->pMethods->xTruncate(real(f), size);
  if (s.cut) return SQLITE_IOERR_TRUNCATE;
  Change c;
  c.truncate = true;
  c.offset = size;
  c.size_before = file_size(f);
  c.before = read_bytes(f, size, c.size_before - size);
  const int rc = real(f)->pMethods->xTruncate(real(f), size);
  if (rc == SQLITE_OK) s.unsynced[*path].push_back(std::move(c));
  return rc;
}

int x_sync(sqlite3_file* f, int flags) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  const std::string* path = tracked(f);
  if (!path) return real(f)->pMethods->xSync(real(f), flags);
  // A cut at an fsync: the fsync never finished, so what it was to make durable is at risk.
  if (count_and_maybe_cut(s)) return SQLITE_IOERR_FSYNC;
  if (s.fault == CrashVfs::Fault::io_error) return SQLITE_IOERR_FSYNC;
  const int rc = real(f)->pMethods->xSync(real(f), flags);
  if (rc == SQLITE_OK) s.unsynced.erase(*path);
  return rc;
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (tracked(f) && s.cut) return SQLITE_IOERR_FSTAT;
  return real(f)->pMethods->xFileSize(real(f), size);
}

// The rest pass through: locks and shared memory are not on the disk.
int x_lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
int x_unlock(sqlite3_file* f, int level) { return real(f)->pMethods->xUnlock(real(f), level); }
int x_check_reserved(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return real(f)->pMethods->xFileControl(real(f), op, arg); }
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) { return real(f)->pMethods->xShmUnmap(real(f), delete_flag); }

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  State& s = state();
  auto* file = reinterpret_cast<File*>(f);
  file->base.pMethods = nullptr;
  file->path = nullptr;
  file->real = static_cast<sqlite3_file*>(sqlite3_malloc(s.base->szOsFile));
  if (!file->real) return SQLITE_NOMEM;
  std::memset(file->real, 0, static_cast<std::size_t>(s.base->szOsFile));
  {
    std::lock_guard lock(s.mutex);
    if (s.cut) {
      sqlite3_free(file->real);
      return SQLITE_CANTOPEN;
    }
  }
  const int rc = s.base->xOpen(s.base, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (file->real->pMethods) file->real->pMethods->xClose(file->real);
    sqlite3_free(file->real);
    return rc;
  }
  if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)))
    file->path = new std::string(name);
  file->base.pMethods = &s.methods;
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.cut) return SQLITE_IOERR_DELETE;
  s.unsynced.erase(name);
  return s.base->xDelete(s.base, name, sync_dir);
}

}  // namespace

CrashVfs& CrashVfs::install() {
  static CrashVfs vfs;
  static const bool registered = [] {
    State& s = state();
    s.base = sqlite3_vfs_find(nullptr);
    if (!s.base) throw std::runtime_error("crash VFS: SQLite has no default VFS");
    s.vfs = *s.base;
    s.vfs.zName = kName;
    s.vfs.pNext = nullptr;
    s.vfs.szOsFile = sizeof(File);
    s.vfs.xOpen = x_open;
    s.vfs.xDelete = x_delete;
    // Version 2: no xFetch, so SQLite never reads the file through a memory map behind xRead.
    s.methods = {2,          x_close,         x_read,         x_write,        x_truncate,     x_sync,
                 x_file_size, x_lock,         x_unlock,       x_check_reserved, x_file_control, x_sector_size,
                 x_device,    x_shm_map,      x_shm_lock,     x_shm_barrier,  x_shm_unmap,    nullptr,
                 nullptr};
    if (sqlite3_vfs_register(&s.vfs, 1) != SQLITE_OK) throw std::runtime_error("crash VFS: cannot register");
    return true;
  }();
  (void)registered;
  return vfs;
}

void CrashVfs::reset(std::uint64_t seed) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.unsynced.clear();
  s.rng.seed(seed);
  s.operations = 0;
  s.cut_at = 0;
  s.cut = false;
  s.fault = Fault::none;
  s.writes_lost = 0;
}

void CrashVfs::cut_after(std::uint64_t n) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.cut_at = n == 0 ? 0 : s.operations + n;
}

bool CrashVfs::cut() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.cut;
}

void CrashVfs::disarm() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.cut = false;
  s.cut_at = 0;
  s.unsynced.clear();
}

void CrashVfs::inject(Fault fault) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.fault = fault;
}

std::uint64_t CrashVfs::operations() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.operations;
}

std::uint64_t CrashVfs::writes_lost() const {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.writes_lost;
}

}  // namespace orderly::test
