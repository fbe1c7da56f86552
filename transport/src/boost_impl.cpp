// Asio, Asio SSL and Beast compiled once for the whole project (STYLE.md "Headers and
// build time"): every other TU sees BOOST_{ASIO,BEAST}_SEPARATE_COMPILATION.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
