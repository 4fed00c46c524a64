/**
 * The BigQuery (GoogleSQL) functions an example query may call: read-only functions over the
 * rows it reads. Anything else — a function reaching outside the catalog (`EXTERNAL_QUERY`,
 * `ML.*`, `AI.*`, `VECTOR_SEARCH`), one that tells who runs the query (`SESSION_USER`), one of
 * another database (`LOAD_FILE`), a user-defined function, a typo — is refused by name. An
 * allow-list rather than a deny-list: a function BigQuery adds later stays out until someone
 * decides it belongs here.
 *
 * Names are upper-case; the `SAFE.` prefix is stripped before lookup.
 */

/** Aggregate functions, statistical aggregates and approximate aggregates. */
const AGGREGATE = [
  "ANY_VALUE", "ARRAY_AGG", "ARRAY_CONCAT_AGG", "AVG", "BIT_AND", "BIT_OR", "BIT_XOR", "COUNT", "COUNTIF",
  "GROUPING", "LOGICAL_AND", "LOGICAL_OR", "MAX", "MAX_BY", "MIN", "MIN_BY", "STRING_AGG", "SUM",
  "CORR", "COVAR_POP", "COVAR_SAMP", "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "VARIANCE", "VAR_POP", "VAR_SAMP",
  "APPROX_COUNT_DISTINCT", "APPROX_QUANTILES", "APPROX_TOP_COUNT", "APPROX_TOP_SUM",
  "HLL_COUNT.EXTRACT", "HLL_COUNT.INIT", "HLL_COUNT.MERGE", "HLL_COUNT.MERGE_PARTIAL"
]

/** Navigation, numbering and other window functions. */
const WINDOW = [
  "CUME_DIST", "DENSE_RANK", "NTILE", "PERCENT_RANK", "RANK", "ROW_NUMBER",
  "FIRST_VALUE", "LAST_VALUE", "NTH_VALUE", "LEAD", "LAG", "PERCENTILE_CONT", "PERCENTILE_DISC"
]

const MATH = [
  "ABS", "ACOS", "ACOSH", "ASIN", "ASINH", "ATAN", "ATAN2", "ATANH", "CBRT", "CEIL", "CEILING", "COS", "COSH",
  "COT", "COTH", "CSC", "CSCH", "DIV", "EXP", "FLOOR", "GREATEST", "IEEE_DIVIDE", "IS_INF", "IS_NAN", "LEAST", "LN",
  "LOG", "LOG10", "MOD", "POW", "POWER", "RAND", "RANGE_BUCKET", "ROUND", "SAFE_ADD", "SAFE_DIVIDE",
  "SAFE_MULTIPLY", "SAFE_NEGATE", "SAFE_SUBTRACT", "SEC", "SECH", "SIGN", "SIN", "SINH", "SQRT", "TAN", "TANH",
  "TRUNC", "COSINE_DISTANCE", "EUCLIDEAN_DISTANCE"
]

const STRING = [
  "ASCII", "BYTE_LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH", "CHR", "CODE_POINTS_TO_BYTES",
  "CODE_POINTS_TO_STRING", "COLLATE", "CONCAT", "CONTAINS_SUBSTR", "EDIT_DISTANCE", "ENDS_WITH", "FORMAT",
  "FROM_BASE32", "FROM_BASE64", "FROM_HEX", "INITCAP", "INSTR", "LEFT", "LENGTH", "LOWER", "LPAD", "LTRIM",
  "NORMALIZE", "NORMALIZE_AND_CASEFOLD", "OCTET_LENGTH", "REGEXP_CONTAINS", "REGEXP_EXTRACT",
  "REGEXP_EXTRACT_ALL", "REGEXP_INSTR", "REGEXP_REPLACE", "REGEXP_SUBSTR", "REPEAT", "REPLACE", "REVERSE",
  "RIGHT", "RPAD", "RTRIM", "SAFE_CONVERT_BYTES_TO_STRING", "SOUNDEX", "SPLIT", "STARTS_WITH", "STRPOS",
  "SUBSTR", "SUBSTRING", "TO_BASE32", "TO_BASE64", "TO_CODE_POINTS", "TO_HEX", "TRANSLATE", "TRIM",
  "UNICODE", "UPPER",
  "NET.HOST", "NET.IP_FROM_STRING", "NET.IP_NET_MASK", "NET.IP_TO_STRING", "NET.IP_TRUNC",
  "NET.IPV4_FROM_INT64", "NET.IPV4_TO_INT64", "NET.PUBLIC_SUFFIX", "NET.REG_DOMAIN",
  "NET.SAFE_IP_FROM_STRING"
]

/** Date, time, datetime and timestamp functions, and intervals. */
const DATE_TIME = [
  "CURRENT_DATE", "CURRENT_DATETIME", "CURRENT_TIME", "CURRENT_TIMESTAMP",
  "DATE", "DATE_ADD", "DATE_BUCKET", "DATE_DIFF", "DATE_FROM_UNIX_DATE", "DATE_SUB", "DATE_TRUNC",
  "DATETIME", "DATETIME_ADD", "DATETIME_BUCKET", "DATETIME_DIFF", "DATETIME_SUB", "DATETIME_TRUNC",
  "TIME", "TIME_ADD", "TIME_DIFF", "TIME_SUB", "TIME_TRUNC",
  "TIMESTAMP", "TIMESTAMP_ADD", "TIMESTAMP_BUCKET", "TIMESTAMP_DIFF", "TIMESTAMP_MICROS", "TIMESTAMP_MILLIS",
  "TIMESTAMP_SECONDS", "TIMESTAMP_SUB", "TIMESTAMP_TRUNC",
  "EXTRACT", "FORMAT_DATE", "FORMAT_DATETIME", "FORMAT_TIME", "FORMAT_TIMESTAMP", "LAST_DAY",
  "PARSE_DATE", "PARSE_DATETIME", "PARSE_TIME", "PARSE_TIMESTAMP",
  "UNIX_DATE", "UNIX_MICROS", "UNIX_MILLIS", "UNIX_SECONDS",
  "GENERATE_DATE_ARRAY", "GENERATE_TIMESTAMP_ARRAY",
  "MAKE_INTERVAL", "JUSTIFY_DAYS", "JUSTIFY_HOURS", "JUSTIFY_INTERVAL",
  // Date parts written as calls: `WEEK(SUNDAY)` in DATE_TRUNC, `ISOWEEK`.
  "WEEK", "ISOWEEK"
]

const JSON_FUNCTIONS = [
  "BOOL", "FLOAT64", "INT64", "JSON_ARRAY", "JSON_EXTRACT", "JSON_EXTRACT_ARRAY", "JSON_EXTRACT_SCALAR",
  "JSON_EXTRACT_STRING_ARRAY", "JSON_KEYS", "JSON_OBJECT", "JSON_QUERY", "JSON_QUERY_ARRAY", "JSON_TYPE",
  "JSON_VALUE", "JSON_VALUE_ARRAY", "LAX_BOOL", "LAX_FLOAT64", "LAX_INT64", "LAX_STRING", "PARSE_JSON",
  "STRING", "TO_JSON", "TO_JSON_STRING"
]

const ARRAY_AND_STRUCT = [
  "ARRAY", "ARRAY_CONCAT", "ARRAY_FIRST", "ARRAY_INCLUDES", "ARRAY_INCLUDES_ALL", "ARRAY_INCLUDES_ANY",
  "ARRAY_IS_DISTINCT", "ARRAY_LAST", "ARRAY_LENGTH", "ARRAY_MAX", "ARRAY_MIN", "ARRAY_REVERSE", "ARRAY_SLICE",
  "ARRAY_TO_STRING", "GENERATE_ARRAY", "OFFSET", "ORDINAL", "SAFE_OFFSET", "SAFE_ORDINAL", "STRUCT",
  "RANGE", "RANGE_CONTAINS", "RANGE_END", "RANGE_INTERSECT", "RANGE_OVERLAPS", "RANGE_START", "GENERATE_RANGE_ARRAY"
]

/** Conditional expressions and conversions. */
const CONDITIONAL_AND_CONVERSION = [
  "COALESCE", "IF", "IFNULL", "NULLIF", "NULLIFZERO", "ZEROIFNULL",
  "CAST", "SAFE_CAST", "PARSE_BIGNUMERIC", "PARSE_NUMERIC", "BIT_COUNT"
]

const HASH = ["FARM_FINGERPRINT", "MD5", "SHA1", "SHA256", "SHA512"]

const GEOGRAPHY = [
  "ST_ANGLE", "ST_AREA", "ST_ASBINARY", "ST_ASGEOJSON", "ST_ASTEXT", "ST_AZIMUTH", "ST_BOUNDARY",
  "ST_BOUNDINGBOX", "ST_BUFFER", "ST_BUFFERWITHTOLERANCE", "ST_CENTROID", "ST_CENTROID_AGG", "ST_CLOSESTPOINT",
  "ST_CLUSTERDBSCAN", "ST_CONTAINS", "ST_CONVEXHULL", "ST_COVEREDBY", "ST_COVERS", "ST_DIFFERENCE",
  "ST_DIMENSION", "ST_DISJOINT", "ST_DISTANCE", "ST_DUMP", "ST_DWITHIN", "ST_ENDPOINT", "ST_EQUALS",
  "ST_EXTENT", "ST_EXTERIORRING", "ST_GEOGFROM", "ST_GEOGFROMGEOJSON", "ST_GEOGFROMTEXT", "ST_GEOGFROMWKB",
  "ST_GEOGPOINT", "ST_GEOGPOINTFROMGEOHASH", "ST_GEOHASH", "ST_GEOMETRYTYPE", "ST_HAUSDORFFDISTANCE",
  "ST_INTERIORRINGS", "ST_INTERSECTION", "ST_INTERSECTS", "ST_INTERSECTSBOX", "ST_ISCLOSED", "ST_ISCOLLECTION",
  "ST_ISEMPTY", "ST_ISRING", "ST_LENGTH", "ST_LINEINTERPOLATEPOINT", "ST_LINELOCATEPOINT", "ST_LINESUBSTRING",
  "ST_MAKELINE", "ST_MAKEPOLYGON", "ST_MAKEPOLYGONORIENTED", "ST_MAXDISTANCE", "ST_NPOINTS", "ST_NUMGEOMETRIES",
  "ST_NUMPOINTS", "ST_PERIMETER", "ST_POINTN", "ST_REGIONSTATS", "ST_SIMPLIFY", "ST_SNAPTOGRID", "ST_STARTPOINT",
  "ST_TOUCHES", "ST_UNION", "ST_UNION_AGG", "ST_WITHIN", "ST_X", "ST_Y", "S2_CELLIDFROMPOINT", "S2_COVERINGCELLIDS"
]

/** Functions that return a fresh value per call, but read nothing. */
const GENERATORS = ["GENERATE_UUID"]

/** The functions an example may call. */
export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set([
  ...AGGREGATE,
  ...WINDOW,
  ...MATH,
  ...STRING,
  ...DATE_TIME,
  ...JSON_FUNCTIONS,
  ...ARRAY_AND_STRUCT,
  ...CONDITIONAL_AND_CONVERSION,
  ...HASH,
  ...GEOGRAPHY,
  ...GENERATORS
])

/**
 * Functions that tell who runs the query or in what context. Read-only, but an example's answer
 * would then depend on (and leak into the prompt) the identity of whoever runs it, not the data.
 */
export const IDENTITY_FUNCTIONS: ReadonlySet<string> = new Set([
  "SESSION_USER", "CURRENT_USER", "USER", "SYSTEM_USER", "SECURE_CONTEXT"
])

/** Functions that reach outside the catalog (another database, a file, a model, a vector index). */
export const EXTERNAL_FUNCTIONS: ReadonlySet<string> = new Set([
  "EXTERNAL_QUERY", "EXTERNAL_OBJECT_TRANSFORM", "VECTOR_SEARCH", "READ_FILE", "LOAD_FILE", "OBJ.FETCH_METADATA",
  "OBJ.GET_ACCESS_URL", "OBJ.MAKE_REF", "APPENDS", "CHANGES", "GAP_FILL"
])

/** Namespaces refused wholesale: models, generative AI, BigQuery system procedures, object tables, key management. */
export const FORBIDDEN_NAMESPACES: ReadonlySet<string> = new Set(["ML", "AI", "BQ", "OBJ", "KEYS", "AEAD"])

export type FunctionVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly why: string }

/** Whether an example may call `name` (dotted, any case, `SAFE.` allowed), and why not. */
export const functionVerdict = (name: string): FunctionVerdict => {
  const parts = name.toUpperCase().split(".")
  const meaningful = parts[0] === "SAFE" && parts.length > 1 ? parts.slice(1) : parts
  const full = meaningful.join(".")
  if (IDENTITY_FUNCTIONS.has(full)) {
    return { allowed: false, why: `${full} is not allowed: it reveals who runs the query, not what the data holds` }
  }
  if (EXTERNAL_FUNCTIONS.has(full)) {
    return { allowed: false, why: `${full} is not allowed: it reads data outside the catalog` }
  }
  if (meaningful.length > 1 && FORBIDDEN_NAMESPACES.has(meaningful[0])) {
    return { allowed: false, why: `${full} is not allowed in an example query (${meaningful[0]}.* functions are refused)` }
  }
  if (!ALLOWED_FUNCTIONS.has(full)) {
    return { allowed: false, why: `${name} is not a read-only BigQuery function this validator knows; only built-in functions are allowed` }
  }
  return { allowed: true }
}
