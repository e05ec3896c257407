"""Secret shapes that must never survive redaction: (name, text containing it, the secret itself).

Values are synthetic (random-looking, not real credentials) but shaped like the real thing.
"""

from __future__ import annotations

ACCOUNT_KEY = "q8Zr3TnVb1Kx7Lm2Pw9Yc4Hd6Jf0Gs5Ua3Ie8Ro1Tq7Wz2Xv4Bn6Mk9Lj3Hg5Fd0Sa8Pq2Wr7Et4Yu1Io6Pl9K=="
SAS_SIG = "Xk3%2Bq9Lm7Zt2Vb8Nc4Rw1Yp6Hd0Jf5Gs3Ua9Ie2Ro7T%3D"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIiwib2lkIjoiMTIzIn0."
       "c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2Vu")
DATABRICKS_PAT = "dapi1f2e3d4c5b6a79880123456789abcdef"
OPENAI_KEY = "sk-proj-Ab3De5Gh7Jk9Mn2Pq4St6Vw8Yz0Bc1Df3Gh5Jk7"
CLIENT_SECRET = "Zx98Q~aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3w"
PASSWORD = "Sup3r-S3cret!pw"
SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv"
GITHUB_TOKEN = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_KEY = "AKIAIOSFODNN7EXAMPL3"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FUNCTION_KEY = "aBcD1234eFgH5678iJkL9012mNoP3456qRsT7890uVwXyZ=="
PRIVATE_KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
SLACK_HOOK_PATH = "T00000000/B11111111/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS_HOOK_PATH = "4a1b2c3d-0000-1111-2222-333344445555@72f988bf/IncomingWebhook/abcdef0123456789/ffff"
STRIPE_KEY = "sk_live_51Hq8ZrTnVb1Kx7Lm2Pw9Yc4Hd6Jf0Gs"
GITLAB_PAT = "glpat-Xq9Lm7Zt2Vb8Nc4Rw1Yp"
SENDGRID_KEY = "SG.q8Zr3TnVb1Kx7Lm2Pw9Yc4.Hd6Jf0Gs5Ua3Ie8Ro1Tq7Wz2Xv4Bn6Mk9Lj3Hg5Fd0"
NPM_TOKEN = "npm_q8Zr3TnVb1Kx7Lm2Pw9Yc4Hd6Jf0Gs5Ua3Ie"
HF_TOKEN = "hf_q8Zr3TnVb1Kx7Lm2Pw9Yc4Hd6Jf0Gs5Ua3"
PGP_KEY_BODY = "lQOYBGXq8ZoBCADr3TnVb1Kx7Lm2Pw9Yc4Hd6Jf0Gs5Ua3Ie8Ro1Tq7Wz2Xv4Bn6"

SECRETS: list[tuple[str, str, str]] = [
    ("storage connection string", f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={ACCOUNT_KEY};"
     "EndpointSuffix=core.windows.net", ACCOUNT_KEY),
    ("bare account key", f"key was {ACCOUNT_KEY} in the log", ACCOUNT_KEY),
    ("SAS url", f"https://acct.blob.core.windows.net/raw/f.csv?sv=2022-11-02&ss=b&srt=o&sp=r&sig={SAS_SIG}&se=2030",
     SAS_SIG),
    ("service bus key", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
     "SharedAccessKey=Qw3rTy8Ui9Op0As1Df2Gh3Jk4Lz5Xc6Vb7Nm8=", "Qw3rTy8Ui9Op0As1Df2Gh3Jk4Lz5Xc6Vb7Nm8="),
    ("sql password", f"Server=tcp:srv.database.windows.net;Database=db;User ID=etl;Password={PASSWORD};", PASSWORD),
    ("pwd short", f"Driver={{ODBC}};Uid=etl;Pwd={PASSWORD}", PASSWORD),
    ("bearer header", f"Authorization: Bearer {JWT}", JWT),
    ("bare jwt", f"token {JWT} rejected", JWT),
    ("json password", f'{{"user": "etl", "password": "{PASSWORD}"}}', PASSWORD),
    ("json client secret", f'{{"clientId": "abc", "client_secret": "{CLIENT_SECRET}"}}', CLIENT_SECRET),
    ("entra client secret alone", f"used secret {CLIENT_SECRET} for app", CLIENT_SECRET),
    ("python repr", f"{{'access_token': '{PASSWORD}'}}", PASSWORD),
    ("url credentials", f"postgresql://airflow:{PASSWORD}@db.internal:5432/airflow", PASSWORD),
    ("databricks pat", f"Authorization header used {DATABRICKS_PAT}", DATABRICKS_PAT),
    ("databricks pat in env", f"DATABRICKS_TOKEN={DATABRICKS_PAT}", DATABRICKS_PAT),
    ("openai key", f"OPENAI_API_KEY is {OPENAI_KEY}", OPENAI_KEY),
    ("slack token", f"slack said invalid_auth for {SLACK_TOKEN}", SLACK_TOKEN),
    ("github token", f"git clone https://x:{GITHUB_TOKEN}@github.com/org/repo", GITHUB_TOKEN),
    ("github token bare", f"token {GITHUB_TOKEN}", GITHUB_TOKEN),
    ("aws key id", f"InvalidAccessKeyId: {AWS_KEY}", AWS_KEY),
    ("aws secret env", f"aws_secret_access_key={AWS_SECRET}", AWS_SECRET),
    ("function key query", f"https://app.azurewebsites.net/api/ingest?code={FUNCTION_KEY}", FUNCTION_KEY),
    ("function key header", f"x-functions-key: {FUNCTION_KEY}", FUNCTION_KEY),
    ("basic auth", "Authorization: Basic ZXRsOlN1cDNyLVMzY3JldCFwdw==", "ZXRsOlN1cDNyLVMzY3JldCFwdw=="),
    ("private key", f"-----BEGIN PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\n-----END PRIVATE KEY-----", PRIVATE_KEY_BODY),
    ("slack webhook", f"posting to https://hooks.slack.com/services/{SLACK_HOOK_PATH} failed", SLACK_HOOK_PATH),
    ("teams webhook", f"https://contoso.webhook.office.com/webhookb2/{TEAMS_HOOK_PATH}", TEAMS_HOOK_PATH),
    ("yaml api key", f"api_key: {PASSWORD}", PASSWORD),
    ("client secret kv", f"ClientSecret={CLIENT_SECRET};TenantId=t", CLIENT_SECRET),
    # Shapes an attacker-minded review found surviving (issue 9 finding 2)
    ("pgp private key block", f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{PGP_KEY_BODY}\n=Xq9L\n"
     "-----END PGP PRIVATE KEY BLOCK-----", PGP_KEY_BODY),
    ("redis url, empty user", f"rediss://:{PASSWORD}@cache.redis.cache.windows.net:6380/0", PASSWORD),
    ("stripe secret key", f"stripe.error.AuthenticationError: Invalid API Key provided: {STRIPE_KEY}", STRIPE_KEY),
    ("gitlab pat", f"git clone failed with token {GITLAB_PAT}", GITLAB_PAT),
    ("sendgrid key", f"SENDGRID={SENDGRID_KEY}", SENDGRID_KEY),
    ("npm token", f"//registry.npmjs.org/:_authToken {NPM_TOKEN}", NPM_TOKEN),
    ("hugging face token", f"401 for model download with {HF_TOKEN}", HF_TOKEN),
    ("sqlcmd -P password", f"sqlcmd -S srv.database.windows.net -U etl -P {PASSWORD} -Q 'select 1' failed", PASSWORD),
    ("--password value", f"mysqldump --user=etl --password={PASSWORD} db", PASSWORD),
]


def all_secret_values() -> list[str]:
    return sorted({value for _, _, value in SECRETS})


def text_with_all_secrets() -> str:
    return "\n".join(text for _, text, _ in SECRETS)
