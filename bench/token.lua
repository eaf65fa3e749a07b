-- bench/token.lua — wrk script for bench/auth.sh: POST /oauth2/token with the
-- client_credentials grant over keep-alive. The client authenticates by HTTP Basic;
-- auth.sh passes that header with `wrk -H "Authorization: Basic ..."`, so no secret
-- is written into this file.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
