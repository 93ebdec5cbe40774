// A thin adapter that streams raw frames into an ffmpeg child process: copy this header
// into your program. POSIX only (posix_spawn, pipes, waitpid); C++17.
//
//   grid_video::encoder_options o;
//   o.width = 1920, o.height = 1080, o.fps = 30, o.output = "out.mp4";
//   o.encoder = grid_video::choose_encoder(o.ffmpeg, "h264_nvenc", o.width, o.height, &note);
//   grid_video::ffmpeg_encoder enc(o);          // throws encoder_error if ffmpeg cannot start
//   enc.write(frame.data(), frame.size());      // throws encoder_error if ffmpeg has died
//   enc.write_rows(row0, row_bytes, rows, stride);  // the same for a frame with padded rows
//   auto done = enc.finish();                   // exit status and the tail of ffmpeg's stderr
//
// - ffmpeg is spawned without a shell; its stdin is the frame pipe, its stderr is drained
//   by a thread into a bounded tail (so ffmpeg never blocks on a full stderr pipe).
// - SIGPIPE must not kill the caller when ffmpeg dies mid-stream: the constructor sets it to
//   SIG_IGN for the process (set ignore_sigpipe = false if you handle it yourself); a write
//   to a dead ffmpeg then fails with EPIPE and becomes an encoder_error naming ffmpeg's exit
//   status and last words.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace grid_video {

class encoder_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct encoder_options {
  std::string ffmpeg = "ffmpeg";       // program name (searched in PATH) or path
  std::string encoder = "libx264";     // ffmpeg -c:v
  std::string pixel_format = "rgb24";  // of the frames written (rawvideo)
  int width = 0, height = 0;
  double fps = 30;
  std::string output;                  // file ffmpeg writes (overwritten)
  std::vector<std::string> extra;      // more output options, e.g. {"-crf", "20"}
  bool ignore_sigpipe = true;
};

struct encoder_result {
  int exit_status = -1;      // ffmpeg's exit code; 128 + signal if it was killed
  std::string stderr_tail;   // the last lines ffmpeg printed
  bool ok() const { return exit_status == 0; }
};

namespace detail {

// Runs argv (no shell) and returns its exit status and combined output; status 127 and an
// explanation if it cannot start.
inline std::pair<int, std::string> run_capture(const std::vector<std::string>& args) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return {127, std::strerror(errno)};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return {127, std::string("cannot run ") + args[0] + ": " + std::strerror(spawned)};
  }
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

inline std::vector<std::string> encoder_args(const std::string& encoder) {
  if (encoder == "libx264") return {"-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20"};
  if (encoder == "h264_vaapi") return {"-vf", "format=nv12,hwupload", "-c:v", "h264_vaapi"};
  return {"-c:v", encoder, "-pix_fmt", "yuv420p"};
}
inline std::vector<std::string> device_args(const std::string& encoder) {
  if (encoder == "h264_vaapi") return {"-vaapi_device", "/dev/dri/renderD128"};
  return {};
}

}  // namespace detail

// The video encoders `ffmpeg -encoders` lists (empty if ffmpeg cannot run).
inline std::vector<std::string> list_encoders(const std::string& ffmpeg) {
  const auto [status, text] = detail::run_capture({ffmpeg, "-hide_banner", "-encoders"});
  std::vector<std::string> names;
  if (status != 0) return names;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    // " V....D libx264   description": flags, then the name.
    if (line.size() > 8 && line[0] == ' ' && line[1] == 'V' && line[7] == ' ') {
      const std::size_t stop = line.find(' ', 8);
      names.push_back(line.substr(8, stop == std::string::npos ? std::string::npos : stop - 8));
    }
  }
  return names;
}

// `requested` if ffmpeg lists it and it opens (a one-frame test encode at width x height),
// else "libx264"; *note says why when it falls back.
inline std::string choose_encoder(const std::string& ffmpeg, const std::string& requested, int width, int height,
                                  std::string* note = nullptr) {
  if (requested == "libx264") return requested;
  const auto names = list_encoders(ffmpeg);
  if (std::find(names.begin(), names.end(), requested) == names.end()) {
    if (note) *note = requested + " is not available in this ffmpeg; falling back to libx264";
    return "libx264";
  }
  std::vector<std::string> args = {ffmpeg, "-hide_banner", "-loglevel", "error"};
  for (const auto& a : detail::device_args(requested)) args.push_back(a);
  for (const auto& a : {"-f", "lavfi", "-i"}) args.emplace_back(a);
  args.push_back("color=c=black:s=" + std::to_string(width) + "x" + std::to_string(height) + ":r=1");
  for (const auto& a : {"-frames:v", "1"}) args.emplace_back(a);
  for (const auto& a : detail::encoder_args(requested)) args.push_back(a);
  for (const auto& a : {"-f", "null", "-"}) args.emplace_back(a);
  const auto [status, text] = detail::run_capture(args);
  if (status != 0) {
    if (note) {
      std::string why = text.substr(0, text.find('\n'));
      *note = requested + " failed to open (" + why + "); falling back to libx264";
    }
    return "libx264";
  }
  return requested;
}

class ffmpeg_encoder {
 public:
  explicit ffmpeg_encoder(const encoder_options& options) : options_(options) {
    if (options.width <= 0 || options.height <= 0 || !(options.fps > 0))
      throw encoder_error("encoder: frame size and rate must be positive");
    if (options.ignore_sigpipe) signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> args = {options.ffmpeg, "-hide_banner", "-loglevel", "error", "-y"};
    for (const auto& a : detail::device_args(options.encoder)) args.push_back(a);
    for (const auto& a : {"-f", "rawvideo", "-pix_fmt"}) args.emplace_back(a);
    args.push_back(options.pixel_format);
    args.push_back("-s");
    args.push_back(std::to_string(options.width) + "x" + std::to_string(options.height));
    args.push_back("-r");
    args.push_back(format_rate(options.fps));
    for (const auto& a : {"-i", "pipe:0", "-an"}) args.emplace_back(a);
    for (const auto& a : detail::encoder_args(options.encoder)) args.push_back(a);
    for (const auto& a : options.extra) args.push_back(a);
    args.push_back(options.output);

    int in[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0) throw encoder_error(std::string("encoder: pipe: ") + std::strerror(errno));
    if (pipe2(err, O_CLOEXEC) != 0) {
      close(in[0]), close(in[1]);
      throw encoder_error(std::string("encoder: pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    // The child starts with SIGPIPE at its default even though we ignore it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int spawned = posix_spawnp(&pid_, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(in[0]), close(err[1]);
    if (spawned != 0) {
      close(in[1]), close(err[0]);
      pid_ = -1;
      throw encoder_error("ffmpeg not found or not executable: '" + options.ffmpeg + "' (" + std::strerror(spawned) +
                          "); install ffmpeg or pass its path");
    }
    stdin_ = in[1];
    stderr_reader_ = std::thread([this, fd = err[0]] { drain(fd); });
  }

  ~ffmpeg_encoder() {
    if (pid_ > 0) {
      if (stdin_ >= 0) close(stdin_), stdin_ = -1;
      kill(pid_, SIGTERM);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (stderr_reader_.joinable()) stderr_reader_.join();
  }
  ffmpeg_encoder(const ffmpeg_encoder&) = delete;
  ffmpeg_encoder& operator=(const ffmpeg_encoder&) = delete;

  const encoder_options& options() const { return options_; }
  std::size_t frame_bytes() const {
    const std::size_t per_pixel = options_.pixel_format == "rgb24" || options_.pixel_format == "bgr24" ? 3 : 4;
    return static_cast<std::size_t>(options_.width) * static_cast<std::size_t>(options_.height) * per_pixel;
  }

  // Writes one frame (frame_bytes() bytes). Throws encoder_error if ffmpeg has gone away.
  void write(const void* frame, std::size_t bytes) {
    write_bytes(frame, bytes);
    ++frames_;
  }
  // Writes one frame whose `rows` rows of `row_bytes` bytes start `stride` bytes apart.
  void write_rows(const void* first_row, std::size_t row_bytes, std::size_t rows, std::ptrdiff_t stride) {
    const char* row = static_cast<const char*>(first_row);
    if (stride == static_cast<std::ptrdiff_t>(row_bytes)) {
      write_bytes(row, row_bytes * rows);
    } else {
      for (std::size_t y = 0; y < rows; ++y, row += stride) write_bytes(row, row_bytes);
    }
    ++frames_;
  }

  // Closes the pipe (end of stream), waits for ffmpeg, and returns how it ended.
  encoder_result finish() {
    if (pid_ > 0) {
      if (stdin_ >= 0) close(stdin_), stdin_ = -1;
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      result_.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      if (stderr_reader_.joinable()) stderr_reader_.join();
      std::lock_guard lock(mutex_);
      result_.stderr_tail = trimmed(tail_);
    }
    return result_;
  }

  std::size_t frames_written() const { return frames_; }

 private:
  void write_bytes(const void* data, std::size_t bytes) {
    if (stdin_ < 0) throw encoder_error("encoder: write after finish()");
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t n = ::write(stdin_, p, bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int error = errno;
        const encoder_result r = finish();
        throw encoder_error("ffmpeg stopped reading frames after " + std::to_string(frames_) + " (" +
                            (error == EPIPE ? std::string("broken pipe") : std::strerror(error)) + "; exit status " +
                            std::to_string(r.exit_status) + ")" + (r.stderr_tail.empty() ? "" : ": " + r.stderr_tail));
      }
      p += n, bytes -= static_cast<std::size_t>(n);
    }
  }

  static std::string format_rate(double fps) {
    std::string s = std::to_string(fps);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  static std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  }
  void drain(int fd) {
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      std::lock_guard lock(mutex_);
      tail_.append(buffer, static_cast<std::size_t>(n));
      if (tail_.size() > 4096) tail_.erase(0, tail_.size() - 4096);
    }
    close(fd);
  }

  encoder_options options_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::size_t frames_ = 0;
  std::thread stderr_reader_;
  std::mutex mutex_;
  std::string tail_;
  encoder_result result_;
};

}  // namespace grid_video
