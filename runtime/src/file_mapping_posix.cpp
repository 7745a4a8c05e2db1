//===- file_mapping_posix.cpp - Map a bundle file read-only ---------------===//

#include "file_mapping.h"

#include "bundle_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::runtime {

kiln_status mapFile(const char *path, FileMapping &out, ErrorMessage &error) {
  out = FileMapping();
  int fd;
  do
    fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int savedErrno = errno;
    startError(error, path) << "cannot open: " << strerror(savedErrno);
    return KILN_ERROR_IO;
  }
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int savedErrno = errno;
    close(fd);
    startError(error, path) << "cannot stat: " << strerror(savedErrno);
    return KILN_ERROR_IO;
  }
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    startError(error, path) << "not a regular file";
    return KILN_ERROR_IO;
  }
  uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size == 0) { // mmap refuses empty mappings; verification reports it
    close(fd);
    return KILN_OK;
  }
  if (size > SIZE_MAX) {
    close(fd);
    startError(error, path) << "file is too large to map";
    return KILN_ERROR_IO;
  }
  void *data = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int savedErrno = errno;
  close(fd); // the mapping keeps the file alive
  if (data == MAP_FAILED) {
    startError(error, path) << "cannot map: " << strerror(savedErrno);
    return savedErrno == ENOMEM ? KILN_ERROR_OUT_OF_MEMORY : KILN_ERROR_IO;
  }
  out.data = static_cast<const uint8_t *>(data);
  out.size = size;
  return KILN_OK;
}

void unmapFile(FileMapping &mapping) {
  if (mapping.data)
    munmap(const_cast<uint8_t *>(mapping.data), mapping.size);
  mapping = FileMapping();
}

} // namespace kiln::runtime
