-- wrk script for bench/idp.sh --postgres: every request rotates a refresh token at the token
-- endpoint (grant_type=refresh_token); the token each answer returns is queued for a later
-- request, so no token is ever presented twice (a replay would revoke its family).
--   WRK_LIB: path of wrk_idp.lua (its done() prints the JSON line)
--   WRK_REFRESH_TOKENS: space-separated, more than wrk's connections; WRK_CLIENT_ID
dofile(os.getenv("WRK_LIB"))
local queue = {}
for t in string.gmatch(os.getenv("WRK_REFRESH_TOKENS") or "", "%S+") do queue[#queue + 1] = t end
local client = os.getenv("WRK_CLIENT_ID") or "bench-cli"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

request = function()
  local t = table.remove(queue, 1) or "none-left"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&client_id=" .. client .. "&refresh_token=" .. t)
end

response = function(status, headers, body)
  local t = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if t then queue[#queue + 1] = t end
end
