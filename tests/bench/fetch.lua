-- tests/bench/fetch.lua -- wrk script: signed phone credential fetches.
-- Every request is signed with a device's Ed25519 key exactly as
-- docs/api.md says (libsodium through LuaJIT's FFI), with a fresh nonce,
-- so the server does the full work: signature check, replay check,
-- device and credential look-ups, the JSON answer. The requests go
-- round-robin over the phones listed in DEVICES_FILE (one
-- "DEVICE_ID SECRET_KEY_B64URL" per line).
--   wrk -s fetch.lua URL -- DEVICES_FILE
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
]]
local ok, na = pcall(ffi.load, "sodium")
if not ok then na = ffi.load("libsodium.so.23") end
local URLSAFE_NO_PADDING = 7
local path = "/v1/phone/credentials"

local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local devs, sks, ndev, body_hash, sig, sigb64, prefix = {}, {}, 0

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
  counter = (tid or 0) -- threads start on different phones
end

function request()
  counter = counter + 1
  local i = counter % ndev + 1
  local dev = devs[i]
  local ts = tostring(os.time())
  local nonce = prefix .. string.format("%010d", counter)
  local msg = "MID-DEVICE-SIG-1\nGET\n" .. path .. "\n" .. ts .. "\n" .. nonce .. "\n" .. dev .. "\n" .. body_hash
  na.crypto_sign_detached(sig, nil, msg, #msg, sks[i])
  na.sodium_bin2base64(sigb64, 100, sig, 64, URLSAFE_NO_PADDING)
  return wrk.format("GET", path, {
    ["X-Device-Id"] = dev, ["X-Timestamp"] = ts, ["X-Nonce"] = nonce,
    ["X-Signature"] = ffi.string(sigb64) })
end

local non200 = 0
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if non200 <= 3 then io.stderr:write("fetch.lua: status " .. status .. ": " .. body .. "\n") end
  end
end
