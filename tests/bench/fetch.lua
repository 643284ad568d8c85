-- tests/bench/fetch.lua -- wrk script: signed phone credential fetches.
-- Every request is signed with a device's Ed25519 key exactly as
-- docs/api.md says (libsodium through LuaJIT's FFI), with its own fresh
-- nonce, so the server does the full work for each one: signature check,
-- replay check, device and credential look-ups, the JSON answer. The
-- requests go round-robin over the phones listed in DEVICES_FILE (one
-- "DEVICE_ID SECRET_KEY_B64URL" per line).
--
--   wrk -tTHREADS ... -s fetch.lua URL -- DEVICES_FILE [THREADS [POOL]]
--
-- The signing is done before the measured run, so that wrk measures the
-- server and not its own signing on the same CPUs: the threads' init()
-- sign POOL complete requests (ceil(POOL / THREADS) each; default POOL 0:
-- sign every request on the fly, as before) into one pool in C memory
-- shared by the threads, which take them 64 at a time, so a thread that
-- runs faster than the others does not run out early. They are stamped
-- with the time of signing: the gateway accepts a stamp within 300 s of its
-- clock and keeps each nonce until stamp + 301 s (docs/api.md "Replay
-- defence"), so the pool is used for at most 290 s after the first request
-- of it was signed. When the pool is used up (or too old), the threads sign
-- the next requests on the fly; done() prints how many requests came from
-- the pool and how many were signed on the fly.
--
-- wrk calls setup() and init() of thread i, then starts thread i, then
-- does the same for thread i + 1, and starts its clock after the last
-- thread is started: thread 1 would run (and be counted) while the others
-- sign. request() therefore waits (sleeping) until all THREADS threads have
-- finished init(); the wait ends when wrk's clock starts, and a
-- connection's latency is timed from after request(). (The one call of
-- thread 1's request() that wrk makes from its main thread to check the
-- request's format is answered without waiting.)
local ffi = require("ffi")
ffi.cdef[[
int sodium_init(void);
int crypto_sign_detached(unsigned char *sig, unsigned long long *siglen,
                         const unsigned char *m, unsigned long long mlen, const unsigned char *sk);
int crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                       unsigned long long inlen, const unsigned char *key, size_t keylen);
char *sodium_bin2base64(char *b64, size_t b64_maxlen, const unsigned char *bin, size_t bin_len, int variant);
int sodium_base642bin(unsigned char *bin, size_t bin_maxlen, const char *b64, size_t b64_len,
                      const char *ignore, size_t *bin_len, const char **b64_end, int variant);
char *sodium_bin2hex(char *hex, size_t hex_maxlen, const unsigned char *bin, size_t bin_len);
void *calloc(size_t nmemb, size_t size);
int usleep(unsigned int usec);
typedef union { char size[64]; long align; } fetch_mutex_t;
int pthread_mutex_init(fetch_mutex_t *m, const void *attr);
int pthread_mutex_lock(fetch_mutex_t *m);
int pthread_mutex_unlock(fetch_mutex_t *m);
typedef struct {
  int ready;          /* threads whose init() has finished */
  int size, filled;   /* requests the pool holds, requests signed so far */
  int next;           /* the first request no thread has taken yet */
  int slot;           /* bytes per request in buf */
  int64_t ts;         /* the earliest stamp in the pool */
  char *buf;
  int32_t *len;
  fetch_mutex_t mu;   /* guards next */
} fetch_pool_t;
]]
local ok, na = pcall(ffi.load, "sodium")
if not ok then na = ffi.load("libsodium.so.23") end
local URLSAFE_NO_PADDING = 7
local path = "/v1/phone/credentials"
local POOL_MAX_AGE = 290 -- seconds the pool is used (the server accepts 300)

-- main Lua state: the threads, and the pool shared by all of them (C
-- memory; ready, size, filled, slot, ts, buf and len are written only by
-- wrk's main OS thread, which runs every init() in turn before the barrier
-- opens; next is taken under mu)
local threads = {}
local shared

function setup(thread)
  if not shared then
    shared = ffi.cast("fetch_pool_t *", ffi.C.calloc(1, ffi.sizeof("fetch_pool_t")))
    ffi.C.pthread_mutex_init(shared.mu, nil)
  end
  thread:set("tid", #threads + 1)
  thread:set("shared_addr", tonumber(ffi.cast("intptr_t", shared)))
  table.insert(threads, thread)
end

-- per-thread Lua state
local devs, sks, ndev, body_hash, sig, sigb64, prefix = {}, {}, 0
local counter = 0
local pool, cur, stop = nil, 0, 0 -- this thread's current batch: [cur, stop)
local BATCH = 64
local nthreads, released, verified = 0, false, false
pooled, onfly, non200 = 0, 0, 0 -- globals: done() reads them with thread:get

local function sign(i, ts)
  counter = counter + 1
  local dev = devs[i]
  local nonce = prefix .. string.format("%010d", counter)
  local msg = "MID-DEVICE-SIG-1\nGET\n" .. path .. "\n" .. ts .. "\n" .. nonce .. "\n" .. dev .. "\n" .. body_hash
  na.crypto_sign_detached(sig, nil, msg, #msg, sks[i])
  na.sodium_bin2base64(sigb64, 100, sig, 64, URLSAFE_NO_PADDING)
  return wrk.format("GET", path, {
    ["X-Device-Id"] = dev, ["X-Timestamp"] = ts, ["X-Nonce"] = nonce,
    ["X-Signature"] = ffi.string(sigb64) })
end

-- the next phone, round-robin (threads start on different phones)
local rr = 0
local function next_phone()
  rr = rr + 1
  return rr % ndev + 1
end

function init(args)
  na.sodium_init()
  local n = ffi.new("size_t[1]")
  for line in io.lines(args[1]) do
    local d, k = line:match("^(%S+)%s+(%S+)$")
    if d then
      local sk = ffi.new("unsigned char[64]")
      assert(na.sodium_base642bin(sk, 64, k, #k, nil, n, nil, URLSAFE_NO_PADDING) == 0 and n[0] == 64,
             "secret key must be 64 bytes of base64url")
      ndev = ndev + 1
      devs[ndev], sks[ndev] = d, sk
    end
  end
  assert(ndev > 0, "no devices in " .. args[1])
  local h = ffi.new("unsigned char[32]")
  na.crypto_generichash(h, 32, "", 0, nil, 0)
  local hex = ffi.new("char[65]")
  na.sodium_bin2hex(hex, 65, h, 32)
  body_hash = ffi.string(hex)
  sig = ffi.new("unsigned char[64]")
  sigb64 = ffi.new("char[100]")
  math.randomseed(os.time() + (tid or 0) * 7919)
  prefix = string.format("t%d-%08x-", tid or 0, math.random(0, 0x7fffffff))
  rr = (tid or 0)

  nthreads = tonumber(args[2]) or 0
  local total = tonumber(args[3]) or 0
  pool = ffi.cast("fetch_pool_t *", shared_addr)
  if total > 0 and nthreads > 0 then
    local ts = tostring(os.time())
    if pool.buf == nil then
      -- the longest a request can be: the longest device id, 2 more
      -- digits of thread number, and room to spare
      local long = 1
      for i = 2, ndev do if #devs[i] > #devs[long] then long = i end end
      local save = counter
      local sample = sign(long, ts)
      counter = save
      pool.slot = #sample + 64
      pool.size = total
      pool.buf = ffi.C.calloc(total, pool.slot)
      pool.len = ffi.C.calloc(total, 4)
      pool.ts = tonumber(ts)
      assert(pool.buf ~= nil and pool.len ~= nil, "cannot allocate the pool")
    end
    local per = math.ceil(total / nthreads)
    for _ = 1, per do
      if pool.filled >= pool.size then break end
      local req = sign(next_phone(), ts)
      assert(#req <= pool.slot, "request longer than the pool's slot")
      ffi.copy(pool.buf + pool.filled * pool.slot, req, #req)
      pool.len[pool.filled] = #req
      pool.filled = pool.filled + 1
    end
  end
  if nthreads > 0 then
    pool.ready = pool.ready + 1
  else
    released = true
  end
end

local function take()
  if cur >= stop then
    if pool.filled == 0 or os.time() - pool.ts > POOL_MAX_AGE then return nil end
    ffi.C.pthread_mutex_lock(pool.mu)
    cur = pool.next
    stop = math.min(cur + BATCH, pool.filled)
    pool.next = stop
    ffi.C.pthread_mutex_unlock(pool.mu)
    if cur >= stop then return nil end
  end
  local i = cur
  cur = cur + 1
  return ffi.string(pool.buf + i * pool.slot, pool.len[i])
end

function request()
  if not released then
    if tid == 1 and not verified then
      verified = true
      return wrk.format("GET", path) -- wrk's format check: never sent
    end
    local waited = 0
    while pool.ready < nthreads and waited < 600000 do
      ffi.C.usleep(1000)
      waited = waited + 1
    end
    if pool.ready < nthreads then io.stderr:write("fetch.lua: start barrier timed out\n") end
    released = true
  end
  local req = take()
  if req then
    pooled = pooled + 1
    return req
  end
  onfly = onfly + 1
  return sign(next_phone(), tostring(os.time()))
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if non200 <= 3 then io.stderr:write("fetch.lua: status " .. status .. ": " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  local p, f, b = 0, 0, 0
  for _, t in ipairs(threads) do
    p = p + (t:get("pooled") or 0)
    f = f + (t:get("onfly") or 0)
    b = b + (t:get("non200") or 0)
  end
  io.write(string.format("fetch.lua: %d requests sent pre-signed, %d signed on the fly, %d answers not 200\n",
                         p, f, b))
end
