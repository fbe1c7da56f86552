#!/usr/bin/env bash
# Writes the seed corpus of each fuzz target to OUTDIR/<target>/ (small, deterministic):
# one well-formed input per shape the parser accepts, plus the hostile cases of issue 18.
# Usage: tests/fuzz/seeds.sh OUTDIR
set -euo pipefail
out=${1:?usage: seeds.sh OUTDIR}
n=0
seed() {  # seed TARGET TEXT (printf %b escapes allowed)
  mkdir -p "$out/$1"
  n=$((n + 1))
  printf '%b' "$2" > "$out/$1/seed-$n"
}

# token_response: first byte picks the HTTP status (A=200 ... see fuzz_support.hpp).
seed token_response '\x00{"access_token":"at-1","refresh_token":"rt-1","id_token":"a.b.c","token_type":"Bearer","expires_in":3600,"scope":"openid"}'
seed token_response '\x00{"access_token":"at","expires_in":"3600"}'
seed token_response '\x00{"access_token":"at","expires_in":1e300}'
seed token_response '\x00{"access_token":"a\\r\\nX-Injected: 1"}'
seed token_response '\x02{"error":"invalid_grant","error_description":"bad \\u001b[31m"}'
seed token_response '\x02{"error":"authorization_pending"}'
seed token_response '\x06<html>500</html>'

seed discovery '\x00{"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/auth","token_endpoint":"https://idp.example/token","device_authorization_endpoint":"https://idp.example/device","jwks_uri":"https://idp.example/jwks","userinfo_endpoint":"http://127.0.0.1:9/me","grant_types_supported":["authorization_code"],"code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":true}'
seed discovery '\x00{"issuer":"https://idp.example/","token_endpoint":"javascript:alert(1)"}'
seed discovery '\x00{"issuer":"https://evil.example","token_endpoint":"https://idp.example/t"}'

seed registration 'Mon, 30 Nov 2026 02:00:00 GMT\n\x01{"client_id":"m-1","client_name":"ci","token_endpoint_auth_method":"private_key_jwt","grant_types":["client_credentials"],"jwks":{"keys":[{"kid":"k1"}]},"registration_access_token":"rat","registration_client_uri":"https://idp.example/reg/m-1","client_id_issued_at":1790000000}'
seed registration 'Mon, 01 Jan 2263 00:00:00 GMT\n\x02{"error":"invalid_client_metadata","error_description":"no"}'
seed registration 'Sat, 01 Jan 9999 00:00:00 GMT\n\x04'

seed gateway 'expires_at\n\x01{"session_token":"s-1","expires_at":"2026-12-01T00:00:00Z"}'
seed gateway 'session.expires\n\x00{"session_token":"s-1","session":{"expires":1e300}}'
seed gateway 'expires_at\n\x00{"session_token":"s-1","expires_in":3600}'
seed gateway 'expires_at\n\x00{"session_token":"s-1","expires_at":"2263-01-01T00:00:00+01:00"}'
seed gateway 'x\n\x03not json'

# jose: "<JWKS>\n<token>"; the keys and tokens of tests/unit/jose_verify_test.cpp.
jwks='{"keys":[{"kty":"EC","crv":"P-256","kid":"py-ec","use":"sig","x":"NI9PrlXI69_61lfr-3t6ShXotr3kIUHEn5m-fDHz_NA","y":"b3rXYZ6whrCpxicZqFJ01acMWjMxQTdZEkLCNEYgl7k"},{"kty":"RSA","kid":"py-rsa","alg":"RS256","use":"sig","n":"4HLM_xbK5d_wWfke7u0l8bV3RhQYCXUPKKJHVOKaA9YWnDr4ARI2BhlbNjfVE1VHqlenhs6MAPU7yWgNBGMT0WLTQWkB1jhHNH0eavIqZ5ShfPjZxcKzR6Cvp0hySafGQKZ3sOrRj5_MXN7ycciiqaL6Dj_WASkBJ4WQuna2DNGeo2cbJjfyfzpZ8I3m04cSmY-ieVGzFh0b56gw_EW39gH9wNLSsekyw6SObTVCTLEGgxtDgBPokHxznW4VJhsX2yIJ181IGCukyCEpgrdXndTeMXAoR4fN-4D9zewOD1BjEleqj5x5GCMNTu8pLp2z2GGUl79f1vwbxmZ7cepQtQ","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}'
es256='eyJhbGciOiJFUzI1NiIsImtpZCI6InB5LWVjIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJsYXRjaC1jbGkiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDYwMH0.DfvMYsnd6qsa3vZJJtIXuLnyQjnUu7c4jiW7BPRiFIoskDQjN9x1Q0Cpi35jVj2dkkDuujv_cxP5U1uYqHc0Og'
rs256='eyJhbGciOiJSUzI1NiIsImtpZCI6InB5LXJzYSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJsYXRjaC1jbGkiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDYwMH0.fIpP-O4_vAg2XMBEnv0FaEbZf3nuGAYHMNg4r_xYlmRzUHTbJGKbwzHm02eL3dCcQMlNKSCTHTPUtp3Tn-8vqwW76ju_L9fI8yssuqFd8zHTiHnqujfVAxTcFmxbRRYNdfJAc0LP5Nw7tRrAIHp7muFHCh91k4G6aNn2SoV1jUrdSBrtUOgj76j0VOC_gWcOdSu2BWg6wKm9GCRGdaTMQUjkoFgL645mvOzHaacGf8Cae0KJR5vFMfC1cVQZQ5oFgvpLVYK_pJERp3zx4Uh3Q4iLb9mPTZ59kP5ARHI1C4hpgR60AyZXLOsnAy1UChl7khWYKWhOqrq9EFynnXpn-Q'
seed jose "$jwks\n$es256"
seed jose "$jwks\n$rs256"
seed jose '{"keys":[]}\neyJhbGciOiJub25lIn0.e30.'
# Refused entries (issue 18 #2): a token naming one gets the reason, escaped.
refused='{"keys":[{"kty":"oct\\u001b]52;c;eA==\\u0007","kid":"sym","k":"AAAA"},{"kty":"RSA","kid":"enc1","use":"enc","e":"AQAB","n":"AQAB"},{"kty":"RSA","kid":"small","e":"AQAB","n":"AQAB"}]}'
seed jose "$refused\neyJhbGciOiJSUzI1NiIsImtpZCI6InN5bSJ9.eyJzdWIiOiJhIn0.c2ln"
seed jose "$refused\neyJhbGciOiJSUzI1NiIsImtpZCI6ImVuYzEifQ.eyJzdWIiOiJhIn0.c2ln"

cred='{"version":1,"context":"default","issuer":"https://idp.example","client_id":"latch-cli","login_method":"device","obtained_at":"2026-11-30T02:00:00Z","identity":{"sub":"alice","email":"a@example.com","name":"Alice"},"tokens":{"access_token":"at","refresh_token":"rt","id_token":"a.b.c","token_type":"Bearer","scope":"openid","expires_at":"2026-11-30T03:00:00Z"},"gateway":{"url":"https://gw.example","session_token":"s","expires_at":"2263-01-01T00:00:00Z","obtained_at":"2026-11-30T02:00:00Z"}}'
seed stores "\x00$cred"
seed stores '\x01{"version":1,"current_context":"work","contexts":{"work":{"issuer":"https://idp.example","client_id":"c","scopes":["openid"],"extra":{"gateway_url":"https://gw"}}}}'
seed stores '\x02{"version":1,"machine_id":"m-1","name":"ci","issuer":"https://idp.example","key_type":"ec-p256","kid":"k1","created_at":"2026-11-30T02:00:00Z","key_created_at":"2026-11-30T02:00:00Z"}'

# device_flow: "<device authorization reply>\n<poll reply>\n..."
code='\x00{"device_code":"d","user_code":"BCDF-GHJK","verification_uri":"https://idp.example/device","verification_uri_complete":"https://idp.example/device?c=1","expires_in":900,"interval":5}'
seed device_flow "$code\n\x02{\"error\":\"authorization_pending\"}\n\x02{\"error\":\"slow_down\",\"interval\":20}\n\x00{\"access_token\":\"at\",\"expires_in\":3600}"
seed device_flow "$code\n\x02{\"error\":\"expired_token\"}"
seed device_flow '\x00{"device_code":"d","user_code":"A\\u001b]52;c;eA==\\u0007","verification_uri":"javascript:x"}'
seed device_flow "$code\n\x00{\"token_type\":\"Bearer\"}"

seed callback 'http://127.0.0.1:8765/callback?code=abc&state=xyz&iss=https%3A%2F%2Fidp.example'
seed callback 'https://app.example.com/login#id_token=eyJ.eyJ.sig&state=s'
seed callback '  <http://127.0.0.1/cb?error=access_denied&error_description=no%1b%5b31m&state=s>  '
seed callback '?code=1&state=2'
seed dpop 'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiZjgzT0ozRDJ4RjFCZzh2dWI5dExlMWdITXpWNzZlOFR1czl1UEh2UlZFVSIsInkiOiJ4X0ZFelJ1OW0zNkhMTl90dWU2NTlMTnBYVzZwQ3lTdGlrWWpLSVdJNWEwIn19.eyJqdGkiOiJqIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vaWRwLmV4YW1wbGUvb2F1dGgyL3Rva2VuIiwiaWF0IjoxNzkwMDAwMDAwfQ.AAAA'
seed dpop 'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.'
echo "wrote $n seeds under $out"
